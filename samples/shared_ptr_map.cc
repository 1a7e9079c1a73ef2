// A plain std::shared_ptr program: a registry of sessions in a std::map, each session holding
// its registry strongly. Created with shared_ptr(new T), so each object has its own block.
#include <cstdio>
#include <map>
#include <memory>
#include <string>

struct Registry;

struct Session {
  std::string user;
  std::shared_ptr<Registry> registry;  // the bug: the registry outlives and owns its sessions
};

struct Registry {
  std::map<std::string, std::shared_ptr<Session>> sessions;
};

int main() {
  std::shared_ptr<Registry> registry(new Registry);
  for (const char* user : {"ada", "grace", "linus"}) {
    std::shared_ptr<Session> s(new Session{user, registry});
    registry->sessions[user] = s;
  }
  std::printf("%zu sessions\n", registry->sessions.size());
}
