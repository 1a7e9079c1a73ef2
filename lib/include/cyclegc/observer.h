// The seam between libcyclegc and tools that watch it, such as the LD_PRELOAD agent: callbacks
// for the birth and death of every tracked object. No observer is installed in a normal run, and
// then the cost is one relaxed load on paths that already take a lock. An observer runs on the
// thread that creates or frees the object and must not create or free managed objects itself.
#pragma once

namespace cyclegc {

struct Observer {
  // `object` is the address of the value (what Ref::get() returns). Either hook may be null.
  void (*on_track)(const void* object, const char* type_name, unsigned long size) = nullptr;
  void (*on_untrack)(const void* object) = nullptr;
  // At the program's end (exit(), or main's return), while its globals are alive: just before
  // the final collection, which runs then and not after the static destructors.
  void (*on_program_end)() = nullptr;
};

// Installs `observer` (which must outlive the process's use of it), or removes it with nullptr.
void set_observer(const Observer* observer);

}  // namespace cyclegc
