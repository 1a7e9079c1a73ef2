// Hooks for tests that force a particular interleaving between the collector and application
// threads. Not for production use: a hook runs inside the collector, between its phases.
#pragma once

namespace cyclegc::testing {

enum class HookPoint {
  kTraced,   // subtract_refs has just recorded the references of `object`
  kRevived,  // validation found `object` touched during the collection: it lives
};
// `object` is the address of the value (what Ref::get() returns). Pass nullptr to remove.
using CollectorHook = void (*)(HookPoint point, const void* object);
void set_collector_hook(CollectorHook hook);

}  // namespace cyclegc::testing
