// The public gc-module functions: argument checking, locking, and introspection over the
// generation lists. The collection itself is in collector.cc.
#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>

#include "absl/strings/str_cat.h"
#include "cyclegc/gc.h"
#include "cyclegc/mutator.h"
#include "gc_state.h"
#include "mutator_registry.h"
#include "reading_scope.h"

namespace cyclegc {
namespace detail {

GcState::GcState() {
  constexpr long kDefaultThresholds[kNumGenerations] = {700, 10, 10};
  for (int i = 0; i < kNumGenerations; ++i) {
    list_init(&generations[i].head);
    generations[i].threshold = kDefaultThresholds[i];
    generations[i].count = 0;
  }
  list_init(&permanent);
}

GcState& state() {
  static GcState* s = new GcState();
  return *s;
}

namespace {

void check_generation(const char* function, int generation) {
  if (generation < 0 || generation >= kNumGenerations) {
    throw std::invalid_argument(absl::StrCat(function, ": generation must be in [0, ",
                                             kNumGenerations - 1, "], got ", generation));
  }
}

void append_objects(const GcLinks* list, std::vector<AnyRef>& out) {
  for (GcLinks* l = list->next; l != list; l = l->next) {
    ObjectHeader* h = ObjectHeader::from_links(l);
    if (incref_if_alive(h)) out.push_back(AnyRef::adopt(h));
  }
}

std::vector<Edge> edges_of(const ReadingScope& scope, const AnyRef& object) {
  std::vector<Edge> out;
  for_each_live_edge(scope, object, [&](const char* label, std::size_t index, AnyRef target) {
    out.push_back(
        {index == Visitor::kNoIndex ? std::string(label) : absl::StrCat(label, "[", index, "]"),
         std::move(target)});
  });
  return out;
}

}  // namespace
}  // namespace detail

using detail::GcState;
using detail::state;

std::size_t collect(int generation) {
  detail::check_generation("collect", generation);
  return detail::run_collection(generation, Trigger::kExplicit, /*wait_if_running=*/true);
}

SavedCollection collect_saving_garbage(int generation) {
  detail::check_generation("collect_saving_garbage", generation);
  SavedCollection c;
  c.found = detail::run_collection(generation, Trigger::kExplicit, /*wait_if_running=*/true,
                                   {/*save_all=*/true, &c.first, &c.uncollectable_first});
  // A collection that did not run (one started from inside another) found nothing.
  c.uncollectable_first = std::clamp(c.uncollectable_first, c.first, c.first + c.found);
  return c;
}

const char* trigger_name(Trigger trigger) {
  switch (trigger) {
    case Trigger::kExplicit:
      return "explicit";
    case Trigger::kThreshold:
      return "threshold";
    case Trigger::kBytes:
      return "bytes";
    case Trigger::kInterval:
      return "interval";
    case Trigger::kRequest:
      return "request";
    case Trigger::kExit:
      return "exit";
  }
  return "unknown";
}

void set_background(bool enabled) { state().background.store(enabled); }
bool is_background() { return state().background.load(); }

void set_bytes_threshold(std::size_t bytes) { state().bytes_threshold.store(bytes); }
std::size_t get_bytes_threshold() { return state().bytes_threshold.load(); }

void set_finalizer_executor(FinalizerExecutor executor) {
  FinalizerExecutor released;  // destroyed after the lock is dropped
  std::lock_guard lock(state().mu);
  released = std::exchange(state().finalizer_executor, std::move(executor));
}

void enable() {
  std::lock_guard lock(state().mu);
  state().enabled = true;
}
void disable() {
  std::lock_guard lock(state().mu);
  state().enabled = false;
}
bool is_enabled() {
  std::lock_guard lock(state().mu);
  return state().enabled;
}

void set_debug(int flags) {
  std::lock_guard lock(state().mu);
  state().debug = flags;
}
int get_debug() {
  std::lock_guard lock(state().mu);
  return state().debug;
}

std::array<long, kNumGenerations> get_threshold() {
  GcState& s = state();
  std::lock_guard lock(s.mu);
  return {s.generations[0].threshold, s.generations[1].threshold, s.generations[2].threshold};
}

void set_threshold(long threshold0, std::optional<long> threshold1,
                   std::optional<long> threshold2) {
  const std::optional<long> values[] = {threshold0, threshold1, threshold2};
  for (int i = 0; i < kNumGenerations; ++i) {
    if (values[i] && *values[i] < 0) {
      throw std::invalid_argument(absl::StrCat("set_threshold: threshold", i,
                                               " must be >= 0 (0 disables), got ", *values[i]));
    }
  }
  GcState& s = state();
  std::lock_guard lock(s.mu);
  for (int i = 0; i < kNumGenerations; ++i) {
    if (values[i]) s.generations[i].threshold = *values[i];
  }
}

std::array<long, kNumGenerations> get_count() {
  GcState& s = state();
  auto lock = detail::lock_settled(s);
  return {s.generations[0].count, s.generations[1].count, s.generations[2].count};
}

void set_finalizer_policy(FinalizerPolicy policy) {
  std::lock_guard lock(state().mu);
  state().policy = policy;
}
FinalizerPolicy get_finalizer_policy() {
  std::lock_guard lock(state().mu);
  return state().policy;
}

std::size_t GarbageList::size() const {
  std::lock_guard lock(state().mu);
  return state().garbage.size();
}
std::vector<AnyRef> GarbageList::items() const {
  std::lock_guard lock(state().mu);
  return state().garbage;
}
AnyRef GarbageList::operator[](std::size_t index) const {
  std::lock_guard lock(state().mu);
  auto& g = state().garbage;
  if (index >= g.size()) {
    throw std::out_of_range(
        absl::StrCat("garbage()[", index, "]: index out of range [0, ", g.size(), ")"));
  }
  return g[index];
}
// Entries are released after the lock is dropped: releasing one may run destructors.
void GarbageList::clear() {
  std::vector<AnyRef> released;  // declared first: destroyed after the lock is dropped
  std::lock_guard lock(state().mu);
  released.swap(state().garbage);
}
bool GarbageList::remove(const AnyRef& object) {
  AnyRef released;
  {
    std::lock_guard lock(state().mu);
    auto& g = state().garbage;
    auto it = std::find(g.begin(), g.end(), object);
    if (it == g.end()) return false;
    released = std::move(*it);
    g.erase(it);
  }
  return true;
}
void GarbageList::erase(std::size_t index) {
  AnyRef released;
  std::lock_guard lock(state().mu);
  auto& g = state().garbage;
  if (index >= g.size()) {
    throw std::out_of_range(
        absl::StrCat("garbage().erase(", index, "): index out of range [0, ", g.size(), ")"));
  }
  released = std::move(g[index]);
  g.erase(g.begin() + static_cast<std::ptrdiff_t>(index));
}
GarbageList& garbage() {
  static GarbageList list;
  return list;
}

std::vector<AnyRef> get_objects(std::optional<int> generation) {
  if (generation) detail::check_generation("get_objects", *generation);
  GcState& s = state();
  std::vector<AnyRef> out;
  auto lock = detail::lock_settled(s);
  for (int i = 0; i < kNumGenerations; ++i) {
    if (!generation || *generation == i) detail::append_objects(&s.generations[i].head, out);
  }
  return out;
}

std::vector<AnyRef> get_referrers(const AnyRef& object) {
  std::vector<AnyRef> out;
  if (!object) return out;
  detail::ReadingScope scope;
  std::vector<AnyRef> all;  // pinned before they are traced
  {
    GcState& s = state();
    auto lock = detail::lock_settled(s);
    for (auto& g : s.generations) detail::append_objects(&g.head, all);
    detail::append_objects(&s.permanent, all);
  }
  for (AnyRef& o : all) {
    bool refers = false;
    detail::for_each_edge(
        scope, o.header(),
        [&](const char*, std::size_t, detail::ObjectHeader* r) { refers |= r == object.header(); });
    if (refers) out.push_back(std::move(o));
  }
  return out;
}

std::vector<Edge> get_referent_edges(const AnyRef& object) {
  if (!object) return {};
  detail::ReadingScope scope;
  return detail::edges_of(scope, object);
}

std::vector<std::vector<Edge>> get_referent_edges(const std::vector<AnyRef>& objects) {
  std::vector<std::vector<Edge>> out(objects.size());
  detail::ReadingScope scope;
  for (std::size_t i = 0; i < objects.size(); ++i) {
    if (objects[i]) out[i] = detail::edges_of(scope, objects[i]);
  }
  return out;
}

void for_each_referent_edge(const std::vector<AnyRef>& objects, const EdgeCallback& each) {
  detail::ReadingScope scope;
  for (std::size_t i = 0; i < objects.size(); ++i) {
    if (!objects[i]) continue;
    detail::for_each_live_edge(scope, objects[i],
                               [&](const char* label, std::size_t index, const AnyRef& target) {
                                 each(i, label, index, target);
                               });
  }
}

std::vector<AnyRef> get_referents(const AnyRef& object) {
  std::vector<AnyRef> out;
  for (auto& e : get_referent_edges(object)) out.push_back(std::move(e.target));
  return out;
}

bool is_tracked(const AnyRef& object) { return object && object.header()->type->tracked(); }

bool is_finalized(const AnyRef& object) {
  return object && (object.header()->strong.load(std::memory_order_acquire) &
                    detail::ObjectHeader::kFinalized);
}

std::uint32_t refcount(const AnyRef& object) {
  return object ? object.header()->strong_count() : 0;
}

std::array<GenerationStats, kNumGenerations> get_stats() {
  std::lock_guard lock(state().mu);
  return state().stats;
}

CallbackId add_callback(Callback callback) {
  GcState& s = state();
  std::lock_guard lock(s.mu);
  CallbackId id = s.next_callback_id++;
  s.callbacks.emplace_back(id, std::move(callback));
  return id;
}

bool remove_callback(CallbackId id) {
  Callback released;
  GcState& s = state();
  std::lock_guard lock(s.mu);
  for (auto it = s.callbacks.begin(); it != s.callbacks.end(); ++it) {
    if (it->first == id) {
      released = std::move(it->second);
      s.callbacks.erase(it);
      return true;
    }
  }
  return false;
}

void freeze() {
  GcState& s = state();
  auto lock = detail::lock_settled(s);
  for (auto& g : s.generations) detail::list_merge(&g.head, &s.permanent);
}

void unfreeze() {
  GcState& s = state();
  std::lock_guard lock(s.mu);
  detail::list_merge(&s.permanent, &s.generations[kNumGenerations - 1].head);
}

std::size_t get_freeze_count() {
  auto lock = detail::lock_settled(state());
  return detail::list_size(&state().permanent);
}

}  // namespace cyclegc
