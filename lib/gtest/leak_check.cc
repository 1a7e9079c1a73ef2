// The leak checker behind cyclegc/gtest.h.
#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cyclegc/cyclegc.h"
#include "cyclegc/gtest.h"

namespace cyclegc::gtest {
namespace {

bool g_allowed = false;
LeakCheckOptions g_options;

// Objects freed by every collection so far, automatic ones included: a cycle a test drops may be
// freed before the test ends, and still counts.
std::atomic<std::size_t> g_collected{0};
void count_collections() {
  static const bool installed = [] {
    add_callback([](Phase phase, const CollectionInfo& info) {
      if (phase == Phase::kStop) g_collected += info.collected;
    });
    return true;
  }();
  (void)installed;
}

// Asks the preloaded agent, when there is one, for text about `address` through one of its
// exported functions: "function (file:line)" of an object's allocation, or a global's name
// from the symbol table, which names the statics the dynamic one (and so dladdr()) leaves out.
std::string ask_agent(const char* function, const void* address) {
  using Lookup = int (*)(const void*, char*, std::size_t);
  const auto lookup = reinterpret_cast<Lookup>(dlsym(RTLD_DEFAULT, function));
  char buf[512];
  return lookup && lookup(address, buf, sizeof buf) > 0 ? std::string(buf) : "";
}

std::string allocation_site(const void* object) {
  const std::string site = ask_agent("cyclegc_agent_allocation_site", object);
  return site.empty() ? "" : ", allocated at " + site;
}

// For each live object, ", still reachable from g_cache" or ", leaked: ...", as the library's
// scan decides; empty when it could not scan. The scan's references are gone on return, so
// that they are not counted as the objects' holders.
using Reachability = std::map<const void*, std::string>;
Reachability reachability() {
  Reachability out;
  const StillReachable s = find_still_reachable();
  if (!s.scanned) return out;
  for (const auto& o : get_objects())
    out[o.address()] = ", leaked: nothing the program holds reaches it";
  for (std::size_t i = 0; i < s.objects.size(); ++i) {
    Holder h = s.holders[s.holder[i]];
    if (h.kind == Holder::Kind::kGlobal) {
      if (std::string symbol = ask_agent("cyclegc_agent_data_symbol", h.address); !symbol.empty())
        h.symbol = std::move(symbol);
    }
    out[s.objects[i].address()] =
        absl::StrCat(", still reachable from ",
                     h.kind == Holder::Kind::kStack ? "the stack of " : "", holder_name(h));
  }
  return out;
}

std::string describe(const AnyRef& o) {
  return absl::StrCat("<", o.type_name(), " ", absl::StrFormat("%p", o.address()), "> ", o.repr());
}

class Listener : public ::testing::EmptyTestEventListener {
  void OnTestStart(const ::testing::TestInfo&) override {
    g_allowed = false;
    before_ = std::make_unique<HeapSnapshot>();
  }
  void OnTestEnd(const ::testing::TestInfo&) override {
    // Failures added here still belong to the test: GoogleTest detaches it only afterwards.
    if (!g_allowed && before_) {
      clear_stack_below();  // the test's dead frames lie where the check's will
      for (const auto& leak : before_->leaks_since()) ADD_FAILURE() << leak;
    }
    before_.reset();
  }
  std::unique_ptr<HeapSnapshot> before_;
};

}  // namespace

HeapSnapshot::HeapSnapshot() {
  count_collections();
  collect();
  for (const auto& o : get_objects()) objects_.push_back(o.address());
  std::sort(objects_.begin(), objects_.end());
  garbage_ = garbage().size();
  collected_ = g_collected.load();
}

std::vector<std::string> HeapSnapshot::leaks_since() const {
  std::vector<std::string> leaks;
  const std::size_t freed_before = g_collected.load() - collected_;
  if (g_options.collectable_cycles_are_leaks && freed_before > 0) {
    leaks.push_back(absl::StrCat("cyclegc: test left ", freed_before,
                                 " objects in cycles that collections during the test freed"));
  }
  // The garbage this collection could free is kept in garbage() a moment, to be named (the
  // first kNamed of it: a dropped million-node ring is one failure, not a million); then it is
  // dropped from the list, from the back so that nothing shifts but what follows it, and freed
  // by the next collection.
  constexpr std::size_t kNamed = 20;
  const SavedCollection saved = collect_saving_garbage();
  const std::size_t found = saved.uncollectable_first - saved.first;
  if (g_options.collectable_cycles_are_leaks && found > 0) {
    const auto collectable = garbage().items();
    for (std::size_t i = saved.first; i < saved.first + std::min(found, kNamed); ++i) {
      leaks.push_back(absl::StrCat(
          "cyclegc: test left a cycle only the collector frees: ", describe(collectable[i]),
          allocation_site(collectable[i].address())));
    }
    if (found > kNamed) {
      leaks.push_back(absl::StrCat("cyclegc: ... and ", found - kNamed,
                                   " more objects in cycles only the collector frees"));
    }
  }
  for (std::size_t i = saved.uncollectable_first; i > saved.first; --i) garbage().erase(i - 1);
  collect();
  const auto garbage_now = garbage().items();
  std::vector<const void*> in_garbage;
  for (const auto& g : garbage_now) in_garbage.push_back(g.address());
  std::sort(in_garbage.begin(), in_garbage.end());
  for (std::size_t i = garbage_; i < garbage_now.size(); ++i) {
    leaks.push_back(absl::StrCat("cyclegc: test left uncollectable ", describe(garbage_now[i]),
                                 allocation_site(garbage_now[i].address())));
  }
  // Objects this test made that are still alive; how many references no trace explains, and
  // whether the program still holds them.
  const Reachability reachable = reachability();
  const auto live = get_objects();
  std::map<const void*, unsigned> traced_in;
  for (const auto& o : live) {
    for (const auto& e : get_referent_edges(o)) ++traced_in[e.target.address()];
  }
  for (const auto& o : live) {
    if (std::binary_search(objects_.begin(), objects_.end(), o.address()) ||
        std::binary_search(in_garbage.begin(), in_garbage.end(), o.address())) {
      continue;
    }
    const unsigned count = refcount(o) - 1;  // not the AnyRef in `live`
    const unsigned untraced = count > traced_in[o.address()] ? count - traced_in[o.address()] : 0;
    leaks.push_back(absl::StrCat(
        "cyclegc: test left ", describe(o),
        untraced > 0
            ? absl::StrCat(" held by ", untraced, " untraced reference", untraced == 1 ? "" : "s")
            : " alive",
        reachable.contains(o.address()) ? reachable.at(o.address()) : "",
        allocation_site(o.address())));
  }
  return leaks;
}

void SetLeakCheckOptions(const LeakCheckOptions& options) { g_options = options; }

void InstallLeakChecker(const LeakCheckOptions& options) {
  SetLeakCheckOptions(options);
  // GoogleTest sends OnTestEnd to listeners in reverse order of registration: appended after the
  // result printer, the checker adds its failures before the printer reports the test.
  ::testing::UnitTest::GetInstance()->listeners().Append(new Listener);
}

void AllowLeaks() { g_allowed = true; }

void LeakCheckedTest::SetUp() { g_allowed = false; }
void LeakCheckedTest::TearDown() {
  if (g_allowed) return;
  clear_stack_below();
  for (const auto& leak : before_.leaks_since()) ADD_FAILURE() << leak;
}

}  // namespace cyclegc::gtest
