// The collector's public API, modelled one-for-one on CPython's `gc` module.
//
// Refcounting frees everything that is not part of a cycle; the collector finds groups of
// tracked objects that only reference each other and frees them. Objects start in generation 0;
// a survivor of a collection of generation g moves to g + 1. A collection of generation g runs
// automatically when the count of g passes its threshold (for generation 0: allocations minus
// deallocations of tracked objects), with CPython's rule that a full collection waits until the
// objects awaiting their first full collection are at least 25% of the long-lived ones.
//
// Threading contract. Application threads may, at any time and without coordination, copy,
// move and drop Refs, upgrade Weaks, replace the Ref fields of objects they own, and allocate
// and free objects, while the collector runs on its own thread. Several threads changing one
// object's fields need a lock (as with std::shared_ptr); containers are read by a collection
// only while every other thread that uses cyclegc is at a safepoint (make<>(), a wait) — the
// collection stops them there for the trace — or under a Guarded<T>'s lock (visitor.h says
// exactly when); raw pointers keep nothing alive. A collection holds a
// reference to every object it examines, so an object whose last reference is dropped during
// it is destroyed when the collection lets go, on the collector's thread. The argument for why
// a collection never frees a live object is at the top of lib/src/collector.cc.
//
// Every function here may be called from any thread.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cyclegc/any_ref.h"

namespace cyclegc {

inline constexpr int kNumGenerations = 3;

// Debug flags for set_debug(), with CPython's values and stderr wording.
inline constexpr int DEBUG_STATS = 1;          // "gc: collecting generation 2..." lines
inline constexpr int DEBUG_COLLECTABLE = 2;    // "gc: collectable <Graph 0x...>"
inline constexpr int DEBUG_UNCOLLECTABLE = 4;  // "gc: uncollectable <Graph 0x...>"
inline constexpr int DEBUG_SAVEALL = 32;       // keep all garbage in garbage() instead of freeing
inline constexpr int DEBUG_LEAK = DEBUG_COLLECTABLE | DEBUG_UNCOLLECTABLE | DEBUG_SAVEALL;

// Runs a collection of `generation` (0..2) and all younger ones on the calling thread. Returns
// the number of unreachable objects found (collected plus uncollectable). Called from inside a
// collection (a finalizer, a destructor of garbage, a callback) it returns 0 at once, as
// CPython's does. Called while another thread's collection runs, it waits for that one to end
// and then runs its own: in CPython the GIL makes that case rare, while here the background
// collector is usually the one running, and the caller wants a collection that saw its latest
// changes, not a 0.
std::size_t collect(int generation = 2);

// collect() for tools that show garbage before it is freed, such as the agent's reports: the
// garbage this collection finds is kept in garbage() as DEBUG_SAVEALL would keep it, for this
// collection only — the flags every other collection reads stay as they are. Its garbage starts
// at garbage()[first]: what is before was there when it started, after any running one ended.
struct SavedCollection {
  std::size_t found = 0;  // as collect() returns
  std::size_t first = 0;
  // garbage()[first, uncollectable_first) is what it could free; from uncollectable_first on,
  // what it found uncollectable (the legacy finalizer policy: garbage with a finalizer and all
  // it reaches). The collector decides; a tool reading garbage() asks, never guesses.
  std::size_t uncollectable_first = 0;
};
SavedCollection collect_saving_garbage(int generation = 2);

// Automatic collection (the threshold and bytes triggers). Explicit requests — collect(),
// request_collect() and the set_interval() timer — run whether it is enabled or not.
void enable();
void disable();
bool is_enabled();

void set_debug(int flags);
int get_debug();

// Thresholds per generation; default (700, 10, 10). A threshold0 of 0 disables automatic
// collection. Omitted values keep their current setting, as in gc.set_threshold.
std::array<long, kNumGenerations> get_threshold();
void set_threshold(long threshold0, std::optional<long> threshold1 = std::nullopt,
                   std::optional<long> threshold2 = std::nullopt);
// (generation-0 allocations minus deallocations, generation-0 collections since the last
// generation-1 collection, generation-1 collections since the last generation-2 collection).
// Exact for the calling thread's deallocations; another running thread's last few (at most
// five) are counted when it frees more, runs a collection or exits.
std::array<long, kNumGenerations> get_count();

// What Python 3 does with finalizers in cycles (PEP 442), or what Python 2 did: leave a cycle
// whose objects have finalizers in garbage() as uncollectable.
enum class FinalizerPolicy { kPep442, kLegacy };
void set_finalizer_policy(FinalizerPolicy policy);
FinalizerPolicy get_finalizer_policy();

// gc.garbage: uncollectable objects (legacy policy) and, with DEBUG_SAVEALL, all garbage found.
// The list holds strong references; remove entries (after breaking their cycles) to free them.
class GarbageList {
 public:
  std::size_t size() const;
  bool empty() const { return size() == 0; }
  std::vector<AnyRef> items() const;  // a snapshot
  AnyRef operator[](std::size_t index) const;
  void clear();                       // del gc.garbage[:]
  bool remove(const AnyRef& object);  // gc.garbage.remove(object)
  void erase(std::size_t index);
};
GarbageList& garbage();

// Tracked objects of one generation (0..2), or of all three. Objects in the permanent
// generation (freeze()) and objects being collected are never returned.
std::vector<AnyRef> get_objects(std::optional<int> generation = std::nullopt);
// Tracked objects that hold a strong reference to `object`. Like gc.get_referrers, it scans the
// whole heap: use it for debugging, not in a hot path.
std::vector<AnyRef> get_referrers(const AnyRef& object);
// The objects `object`'s trace visits, in trace order.
std::vector<AnyRef> get_referents(const AnyRef& object);
struct Edge {
  std::string label;  // "next", or "kids[2]" for the third element of a container
  AnyRef target;
};
std::vector<Edge> get_referent_edges(const AnyRef& object);
// The edges of each of `objects`, read in one pass: a heap walk's way to ask.
std::vector<std::vector<Edge>> get_referent_edges(const std::vector<AnyRef>& objects);
// The same edges handed to `each` as they are read, in order of `objects`, so that a walk over a
// million objects holds no copy of the graph: `object` indexes `objects`; `label` is the field's
// name, valid during the call only; `index` is the element's position in a container, or
// Visitor::kNoIndex. `each` runs while other threads may be stopped at safepoints: it must not
// make cyclegc objects or wait for another thread.
using EdgeCallback = std::function<void(std::size_t object, const char* label, std::size_t index,
                                        const AnyRef& target)>;
void for_each_referent_edge(const std::vector<AnyRef>& objects, const EdgeCallback& each);
// Introspection reads what a collection may read, when it may (visitor.h): while the other
// threads that use cyclegc are stopped at safepoints for it. When one cannot be stopped (it runs
// without reaching a safepoint for 20 ms), containers are skipped and only Ref fields are seen.

bool is_tracked(const AnyRef& object);
bool is_finalized(const AnyRef& object);
// The strong count (sys.getrefcount). An AnyRef is itself a reference and is counted; a Ref<T>
// argument is not copied, so it is counted once, as the reference it is.
std::uint32_t refcount(const AnyRef& object);
template <class T>
std::uint32_t refcount(const Ref<T>& object) {
  return object.use_count();
}

// What started a collection.
enum class Trigger {
  kExplicit,   // collect()
  kThreshold,  // generation counts passed their thresholds (CPython's rule)
  kBytes,      // bytes allocated since the last collection passed set_bytes_threshold()
  kInterval,   // set_interval() elapsed
  kRequest,    // request_collect()
  kExit,       // the final collection at process exit
};
inline constexpr int kNumTriggers = 6;
const char* trigger_name(Trigger trigger);

struct GenerationStats {
  std::size_t collections = 0;
  std::size_t collected = 0;
  std::size_t uncollectable = 0;
  // Objects kept alive because part of them could not be read: containers while another
  // thread that uses cyclegc was running and never reached a safepoint, or a busy Guarded.
  std::size_t unreadable = 0;
  std::array<std::size_t, kNumTriggers> by_trigger{};  // collections, by Trigger
};
std::array<GenerationStats, kNumGenerations> get_stats();

// gc.callbacks: called before ("start") and after ("stop") every collection.
enum class Phase { kStart, kStop };
struct CollectionInfo {
  int generation = 0;
  std::size_t collected = 0;      // 0 at start
  std::size_t uncollectable = 0;  // 0 at start
  Trigger trigger = Trigger::kExplicit;
  std::size_t unreadable = 0;  // 0 at start; see GenerationStats::unreadable
};
using Callback = std::function<void(Phase, const CollectionInfo&)>;
using CallbackId = std::uint64_t;
CallbackId add_callback(Callback callback);
bool remove_callback(CallbackId id);

// The background collector. When enabled (the default), automatic collections run on a thread
// of the collector's own, started with the first tracked object, and application threads never
// wait for them; when disabled, they run on the allocating thread, as in CPython.
void set_background(bool enabled);
bool is_background();
// Asks the background collector for a collection of `generation` and returns at once.
void request_collect(int generation = kNumGenerations - 1);
// A full collection every `interval` (0, the default, turns it off).
void set_interval(std::chrono::milliseconds interval);
std::chrono::milliseconds get_interval();
// A collection of generation 0 whenever this many bytes of tracked objects were allocated since
// the last collection (0 turns it off; default 64 MiB): CPython counts objects only, so a few
// huge objects never trigger it.
void set_bytes_threshold(std::size_t bytes);
std::size_t get_bytes_threshold();
// Where finalizers and destructors of garbage found by the background collector run. By
// default on the collector thread; an executor receives the work and must run it (on any
// thread, soon: the collector waits for it before its next collection).
using FinalizerExecutor = std::function<void(std::function<void()> work)>;
void set_finalizer_executor(FinalizerExecutor executor);

// Moves every tracked object to a permanent generation the collector ignores (gc.freeze).
void freeze();
void unfreeze();
std::size_t get_freeze_count();

}  // namespace cyclegc
