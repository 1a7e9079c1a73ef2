// leaky_event_bus: widgets subscribe to an event bus with handlers that capture the widget
// itself. The bus's handlers are std::function objects, which no trace can look into, so the
// references they hold are invisible to the collector: no collection can free the widgets, and
// the agent reports them as "held by untraced references".
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "cyclegc/cyclegc.h"

struct Event {
  std::string name;
};

struct EventBus {
  std::vector<std::function<void(const Event&)>> handlers;  // opaque to the collector
  void publish(const Event& e) {
    for (auto& handler : handlers) handler(e);
  }
  void trace(cyclegc::Visitor&) const {}  // nothing it can show: its references hide in handlers
  std::string repr() const { return "EventBus"; }
};

struct Widget {
  std::string name;
  cyclegc::Ref<EventBus> bus;
  int events_seen = 0;
  explicit Widget(std::string n) : name(std::move(n)) {}
  void trace(cyclegc::Visitor& v) const { v("bus", bus); }
  std::string repr() const { return "Widget(" + name + ")"; }
};

void subscribe(const cyclegc::Ref<Widget>& widget, const cyclegc::Ref<EventBus>& bus) {
  widget->bus = bus;
  // The leak: the handler owns a reference to its widget, and the widget owns the bus.
  bus->handlers.push_back([widget](const Event&) { ++widget->events_seen; });
}

int main() {
  auto bus = cyclegc::make<EventBus>();  // ALLOC: bus
  for (const char* name : {"clock", "status"}) {
    auto widget = cyclegc::make<Widget>(name);  // ALLOC: widget
    subscribe(widget, bus);
  }
  bus->publish({"tick"});
  bus->publish({"tick"});
  std::cout << "published 2 events to " << bus->handlers.size() << " handlers\n";
  std::cout << "collected at exit: " << cyclegc::collect() << " (the widgets are not garbage "
            << "to the collector: their handlers hold them)\n";
}
