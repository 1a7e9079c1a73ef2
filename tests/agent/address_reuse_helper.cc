// For agent_test.cc: frees an object, then makes a leaking one, which the allocator usually
// places at the freed object's address. The report must give the second object's allocation
// site, not the first's.
#include <cstdio>

#include "cyclegc/cyclegc.h"

struct Loop {
  cyclegc::Ref<Loop> self;
  void trace(cyclegc::Visitor& v) const { v("self", self); }
};

__attribute__((noinline)) const void* make_and_free() {
  auto first = cyclegc::make<Loop>();  // ALLOC: freed
  return first.get();
}

__attribute__((noinline)) const void* leak() {
  auto second = cyclegc::make<Loop>();  // ALLOC: leaked
  second->self = second;
  return second.get();
}

int main() {
  const void* freed = make_and_free();
  // The library frees a dead object's block once it has unlinked it, which it does a few objects
  // at a time; reading the counts settles this thread's.
  cyclegc::get_count();
  const void* leaked = leak();
  std::printf("same address: %d\n", freed == leaked);
}
