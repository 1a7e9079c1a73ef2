// Turns the heap as it is now into a Report: the garbage the collector kept (collectable,
// uncollectable, saved), live objects held by references no trace explains, the edges between
// them, their cycles with the edge that closes each, referrer chains, and live objects counted
// by type and allocation site.
#pragma once

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "cyclegc/any_ref.h"

#include "cyclegc_report/report.h"
#include "stack_recorder.h"

namespace cyclegc::agent {

// An object's label, taken while the program was alive, with its type: an address reused by
// an object of another type since is not the same object.
struct TakenLabel {
  const void* type = nullptr;
  std::string text;
};
using TakenLabels = absl::flat_hash_map<const void*, TakenLabel>;  // by object header

// What the program still held at its end (cyclegc::find_still_reachable), taken then, while
// its stacks and globals were whole: by object header, the object's type and its holder's group.
struct StillHeld {
  struct At {
    const void* type = nullptr;  // an address reused since by another type is another object
    int group = 0;
  };
  absl::flat_hash_map<const void*, At> objects;
  std::vector<report::StillReachableGroup> groups;
};

struct BuildInput {
  const StackRecorder* stacks = nullptr;
  std::vector<report::Collection> collections;
  std::size_t garbage_before = 0;  // garbage() entries that predate this report's collection
  // [from, to) ranges of garbage() that the collector found uncollectable (SavedCollection).
  std::vector<std::pair<std::size_t, std::size_t>> uncollectable;
  // At exit every object still alive was leaked (the program's own globals are gone), so all
  // of them are reported; earlier reports describe the garbage and count the living.
  bool at_exit = false;
  // Labels taken earlier, by object header, for objects that existed then; objects not in it get
  // none. Null: each object's repr() is called now.
  const TakenLabels* labels = nullptr;
  // At exit: what the program still held at its end is counted there, not reported; every
  // other live object is leaked. Null: the scan could not run, and live objects are reported
  // without being called leaks unless untraced references hold them.
  const StillHeld* still_held = nullptr;
};

// The object's repr(), or what it threw: a repr is the program's code and may fail.
std::string safe_repr(const AnyRef& object) noexcept;

report::Report build_report(const BuildInput& in);

}  // namespace cyclegc::agent
