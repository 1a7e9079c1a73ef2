// One field that trace() cannot see into, chosen by -DFIELD=...; compile_fails.cmake expects
// the compiler to refuse it with cyclegc's message. -DFIELD=control is the same program with a
// traceable field, which must compile (so a broken include path cannot pass for a refusal).
#include <cyclegc/cyclegc.h>

#include <functional>
#include <memory>

struct Other {};
struct NoTrace {
  cyclegc::Ref<Other> hidden;
};

struct Holder {
#if defined(FIELD_shared_ptr)
  std::shared_ptr<Holder> field;
#elif defined(FIELD_weak_ptr)
  std::weak_ptr<Holder> field;
#elif defined(FIELD_function)
  std::function<void()> field;
#elif defined(FIELD_raw_pointer)
  Holder* field = nullptr;
#elif defined(FIELD_no_trace)
  NoTrace field;
#elif defined(FIELD_vector_of_shared_ptr)
  std::vector<std::shared_ptr<Holder> > field;
#elif defined(FIELD_control)
  std::vector<std::unique_ptr<cyclegc::Ref<Holder> > > field;
#endif
  void trace(cyclegc::Visitor& v) const { v("field", field); }
};

int main() { return cyclegc::make<Holder>() ? 0 : 1; }
