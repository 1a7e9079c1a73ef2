// For host_safety_test.cc: a plugin that uses cyclegc, loaded with dlopen() by a program that
// does not (plugin_host.cc); it leaves a cycle.
#include "cyclegc/cyclegc.h"

namespace {
struct PluginNode {
  cyclegc::Ref<PluginNode> next;
  void trace(cyclegc::Visitor& v) const { v("next", next); }
};
}  // namespace

extern "C" __attribute__((visibility("default"))) void plugin_leave_a_cycle() {
  auto a = cyclegc::make<PluginNode>();
  a->next = cyclegc::make<PluginNode>();
  a->next->next = a;
}
