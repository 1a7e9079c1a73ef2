// weakref_finalize: weak references that do not keep objects alive, and cleanup callbacks that
// run when an object dies — by refcounting, or in a cycle found by the collector.
#include <functional>

#include "graph.h"

struct Expensive {};

// weakref.finalize(obj, callback): the callback runs once when the object dies.
struct Connection {
  bool open = true;
  std::function<void()> on_finalize;
  void close() {
    open = false;
    std::cout << "Connection closed\n";
  }
  void finalize() {
    if (on_finalize) on_finalize();
  }
};

struct TempFile {
  std::string name;
  bool open = true;
  cyclegc::Ref<TempFile> partner;  // lets the sample build a cycle
  std::function<void()> on_finalize;
  explicit TempFile(std::string n) : name(std::move(n)) { std::cout << "Opened " << name << "\n"; }
  void close() {
    if (open) {
      std::cout << "Closed " << name << "\n";
      open = false;
    }
  }
  void trace(cyclegc::Visitor& v) const { v("partner", partner); }
  void finalize() {
    if (on_finalize) on_finalize();
  }
};

static cyclegc::Ref<TempFile> use_tempfile(const std::string& name) {
  auto t = cyclegc::make<TempFile>(name);
  // Ensure cleanup even if the object takes part in a cycle. The callback gets the object
  // through a raw pointer: capturing a Ref would keep it alive forever.
  TempFile* raw = t.get();
  t->on_finalize = [raw] { raw->close(); };
  return t;
}

int main() {
  unbuffered_output();
  auto obj = cyclegc::make<Expensive>();
  cyclegc::Weak<Expensive> r = obj;
  std::cout << "Alive? " << (r.lock() ? "True" : "False") << "\n";
  obj = nullptr;
  std::cout << "Alive after del? " << (r.lock() ? "True" : "False") << "\n";

  auto c = cyclegc::make<Connection>();
  Connection* raw = c.get();
  c->on_finalize = [raw] { raw->close(); };
  c = nullptr;  // the finalizer runs when c is unreachable

  auto t = use_tempfile("session.tmp");
  t = nullptr;  // dies by refcounting: closed now

  std::cout << "\nA temp file in a cycle:\n";
  auto a = use_tempfile("a.tmp");
  a->partner = a;
  cyclegc::Weak<TempFile> watch = a;
  a = nullptr;
  std::cout << "Dropped; alive? " << (watch.lock() ? "True" : "False") << "\n";
  std::size_t collected = cyclegc::collect();
  std::cout << "Collected: " << collected << "\n";
  std::cout << "Alive after collect? " << (watch.lock() ? "True" : "False") << "\n";
}
