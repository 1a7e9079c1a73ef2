// The leak checker behind cyclegc/gtest.h.
#include <dlfcn.h>

#include <algorithm>
#include <map>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cyclegc/cyclegc.h"
#include "cyclegc/gtest.h"

namespace cyclegc::gtest {
namespace {

bool g_allowed = false;

// The agent's allocation site for `object` ("function (file:line)"), when it is preloaded.
std::string allocation_site(const void* object) {
  using Lookup = int (*)(const void*, char*, std::size_t);
  static const auto lookup =
      reinterpret_cast<Lookup>(dlsym(RTLD_DEFAULT, "cyclegc_agent_allocation_site"));
  if (!lookup) return "";
  char buf[512];
  return lookup(object, buf, sizeof buf) > 0 ? absl::StrCat(", allocated at ", buf) : "";
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
      for (const auto& leak : before_->leaks_since()) ADD_FAILURE() << leak;
    }
    before_.reset();
  }
  std::unique_ptr<HeapSnapshot> before_;
};

}  // namespace

HeapSnapshot::HeapSnapshot() {
  collect();
  for (const auto& o : get_objects()) objects_.push_back(o.address());
  std::sort(objects_.begin(), objects_.end());
  garbage_ = garbage().size();
}

std::vector<std::string> HeapSnapshot::leaks_since() const {
  collect();
  std::vector<std::string> leaks;
  const auto garbage_now = garbage().items();
  std::vector<const void*> in_garbage;
  for (const auto& g : garbage_now) in_garbage.push_back(g.address());
  std::sort(in_garbage.begin(), in_garbage.end());
  for (std::size_t i = garbage_; i < garbage_now.size(); ++i) {
    leaks.push_back(absl::StrCat("cyclegc: test left uncollectable ", describe(garbage_now[i]),
                                 allocation_site(garbage_now[i].address())));
  }
  // Objects this test made that are still alive; how many references no trace explains.
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
        allocation_site(o.address())));
  }
  return leaks;
}

void InstallLeakChecker() {
  // GoogleTest sends OnTestEnd to listeners in reverse order of registration: appended after the
  // result printer, the checker adds its failures before the printer reports the test.
  ::testing::UnitTest::GetInstance()->listeners().Append(new Listener);
}

void AllowLeaks() { g_allowed = true; }

void LeakCheckedTest::SetUp() { g_allowed = false; }
void LeakCheckedTest::TearDown() {
  if (g_allowed) return;
  for (const auto& leak : before_.leaks_since()) ADD_FAILURE() << leak;
}

}  // namespace cyclegc::gtest
