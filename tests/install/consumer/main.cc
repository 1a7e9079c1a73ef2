// A user's program: a two-object cycle, collected; and where the agent was installed.
#include <cyclegc/cyclegc.h>

#include <cstdio>

struct Peer {
  cyclegc::Ref<Peer> other;
  void trace(cyclegc::Visitor& v) const { v("other", other); }
};

int main() {
  {
    auto a = cyclegc::make<Peer>();
    auto b = cyclegc::make<Peer>();
    a->other = b;
    b->other = a;
  }
  std::printf("collected %zu\n", cyclegc::collect());
#ifdef AGENT_PATH
  std::printf("agent at %s\n", AGENT_PATH);
#endif
}
