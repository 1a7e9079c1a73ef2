// What a std::shared_ptr user reaches for: conversions along class hierarchies (single, multiple
// and virtual inheritance), the casts, enable_ref_from_this, comparisons, hashing, ownership
// order, and the rest of Weak's interface; and that a Ref<Base> still traces the Derived.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <unordered_set>

#include "gc_fixture.h"

namespace cyclegc::testing {
namespace {

struct Shape {
  static inline int live = 0;
  Shape() { ++live; }
  virtual ~Shape() { --live; }
  virtual double area() const = 0;
  Ref<Shape> next;  // a cycle through base-class fields
  void trace(Visitor& v) const { v("next", next); }
};
struct Square : Shape {
  explicit Square(double s) : side(s) {}
  double area() const override { return side * side; }
  double side;
};

// Multiple inheritance: the second base sits at a non-zero offset in the object.
struct Named {
  virtual ~Named() = default;
  std::string name = "named";
};
struct Labelled : Named, Shape {
  double area() const override { return 1; }
  Ref<Named> friend_;  // held through the first base
  void trace(Visitor& v) const {
    Shape::trace(v);
    v("friend", friend_);
  }
};

// Virtual inheritance: the base's offset is read from the object at run time.
struct Base {
  virtual ~Base() = default;
  int base_value = 7;
};
struct Left : virtual Base {
  int left = 1;
};
struct Right : virtual Base {
  int right = 2;
};
struct Diamond : Left, Right {
  int diamond = 3;
};

using ConversionTest = GcTest;

TEST_F(ConversionTest, DerivedConvertsToBaseAndKeepsTheObjectAlive) {
  Ref<Square> square = make<Square>(3.0);
  Ref<Shape> shape = square;  // implicit, as shared_ptr<Base> from shared_ptr<Derived>
  EXPECT_EQ(shape.use_count(), 2u);
  EXPECT_EQ(shape->area(), 9.0);
  EXPECT_EQ(shape.get(), static_cast<Shape*>(square.get()));
  square = nullptr;
  EXPECT_EQ(Shape::live, 1);
  shape = nullptr;  // the Derived destructor runs through the Ref<Base>
  EXPECT_EQ(Shape::live, 0);
}

TEST_F(ConversionTest, MovingAConversionChangesNoCount) {
  Ref<Square> square = make<Square>(2.0);
  Ref<Shape> shape = std::move(square);
  EXPECT_FALSE(square);  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(shape.use_count(), 1u);
  Ref<Shape> other;
  other = make<Square>(1.0);  // converting move assignment
  EXPECT_EQ(other.use_count(), 1u);
  other = shape;  // converting copy assignment releases the old object
  EXPECT_EQ(Shape::live, 1);
}

TEST_F(ConversionTest, MultipleInheritanceAdjustsThePointer) {
  Ref<Labelled> labelled = make<Labelled>();
  Ref<Shape> shape = labelled;
  Ref<Named> named = labelled;
  EXPECT_NE(static_cast<void*>(shape.get()), static_cast<void*>(named.get()));
  EXPECT_EQ(shape.get(), static_cast<Shape*>(labelled.get()));
  EXPECT_EQ(named->name, "named");
  // Back down again, through either base.
  EXPECT_EQ(dynamic_pointer_cast<Labelled>(shape), labelled);
  EXPECT_EQ(static_pointer_cast<Labelled>(named).get(), labelled.get());
  EXPECT_EQ(dynamic_pointer_cast<Named>(shape).get(), named.get());  // a cross-cast
  EXPECT_EQ(labelled.use_count(), 3u);
}

TEST_F(ConversionTest, VirtualInheritanceAdjustsThePointer) {
  Ref<Diamond> diamond = make<Diamond>();
  Ref<Base> base = diamond;
  Ref<Right> right = diamond;
  EXPECT_EQ(base.get(), static_cast<Base*>(diamond.get()));
  EXPECT_EQ(base->base_value, 7);
  EXPECT_EQ(right->right, 2);
  Ref<Base> from_right = right;
  EXPECT_EQ(from_right.get(), base.get());
  EXPECT_EQ(dynamic_pointer_cast<Diamond>(base), diamond);
  Weak<Base> weak = Weak<Right>(right);  // Weak converts, reading the virtual base's offset
  EXPECT_EQ(weak.lock().get(), base.get());
}

TEST_F(ConversionTest, ConstConversionsAndCasts) {
  Ref<Square> square = make<Square>(2.0);
  Ref<const Square> view = square;
  EXPECT_EQ(view->side, 2.0);
  Ref<const Shape> const_shape = view;
  Ref<Square> back = const_pointer_cast<Square>(view);
  back->side = 5;
  EXPECT_EQ(square->side, 5.0);
  EXPECT_EQ(const_shape->area(), 25.0);
  EXPECT_FALSE(dynamic_pointer_cast<Labelled>(Ref<Shape>(square)));
  EXPECT_FALSE(dynamic_pointer_cast<Square>(Ref<Shape>()));
  EXPECT_EQ(reinterpret_pointer_cast<const char>(square).get(),
            reinterpret_cast<const char*>(square.get()));
}

TEST_F(ConversionTest, TheAliasingConstructorSharesOwnership) {
  Ref<Square> square = make<Square>(4.0);
  Ref<double> side(square, &square->side);
  EXPECT_EQ(*side, 4.0);
  square = nullptr;
  EXPECT_EQ(Shape::live, 1);  // the alias owns the square
  EXPECT_EQ(side.use_count(), 1u);
  side = nullptr;
  EXPECT_EQ(Shape::live, 0);
}

TEST_F(ConversionTest, ACycleHeldOnlyThroughBaseFieldsIsTracedAsTheDerived) {
  struct Holder : Shape {
    double area() const override { return 0; }
    std::vector<Ref<Shape>> extra;  // only the Derived knows about this field
    void trace(Visitor& v) const {
      Shape::trace(v);
      v("extra", extra);
    }
  };
  {
    Ref<Shape> a = make<Holder>();
    Ref<Shape> b = make<Square>(1.0);
    a->next = b;
    static_pointer_cast<Holder>(a)->extra.push_back(a);  // a self-cycle through the Derived
    b->next = a;
  }
  EXPECT_EQ(Shape::live, 2);
  EXPECT_EQ(collect(), 2u);
  EXPECT_EQ(Shape::live, 0);
}

TEST_F(ConversionTest, ComparisonsHashingAndOrderedContainers) {
  Ref<Square> a = make<Square>(1.0);
  Ref<Square> b = make<Square>(2.0);
  Ref<Shape> a_shape = a;
  EXPECT_TRUE(a == a_shape);
  EXPECT_FALSE(a == b);
  EXPECT_TRUE(a != b);
  EXPECT_TRUE(Ref<Square>() == nullptr);
  EXPECT_TRUE(nullptr != a);
  EXPECT_EQ(a < b, a.get() < b.get());
  EXPECT_EQ((a <=> b), (a.get() <=> b.get()));
  EXPECT_TRUE(a > nullptr);

  std::set<Ref<Square>> set{a, b, a};
  EXPECT_EQ(set.size(), 2u);
  std::unordered_set<Ref<Square>> hashed{a, b, a};
  EXPECT_EQ(hashed.size(), 2u);
  EXPECT_EQ(std::hash<Ref<Square>>()(a), std::hash<Square*>()(a.get()));
  std::map<Ref<Shape>, int> by_shape{{a_shape, 1}};
  EXPECT_EQ(by_shape.count(a_shape), 1u);

  std::ostringstream printed, expected;
  printed << a;
  expected << a.get();
  EXPECT_EQ(printed.str(), expected.str());
}

TEST_F(ConversionTest, OwnershipOrderIgnoresWhichSubobjectIsPointedAt) {
  Ref<Labelled> labelled = make<Labelled>();
  Ref<Named> named = labelled;
  Ref<Shape> shape = labelled;
  EXPECT_FALSE(named.owner_before(shape));
  EXPECT_FALSE(shape.owner_before(named));
  std::set<Ref<Named>, std::owner_less<>> owners{named};
  Weak<Shape> weak = shape;
  EXPECT_FALSE(weak.owner_before(named));
  EXPECT_FALSE(named.owner_before(weak));
  std::set<Weak<Shape>, std::owner_less<>> weak_owners{weak, Weak<Shape>(shape)};
  EXPECT_EQ(weak_owners.size(), 1u);
  EXPECT_NE(static_cast<void*>(named.get()), static_cast<void*>(shape.get()));
}

TEST_F(ConversionTest, SwapExchangesReferences) {
  Ref<Square> a = make<Square>(1.0), b = make<Square>(2.0);
  Square* pa = a.get();
  swap(a, b);
  EXPECT_EQ(b.get(), pa);
  a.swap(b);
  EXPECT_EQ(a.get(), pa);
  std::swap(a, b);
  EXPECT_EQ(b.get(), pa);
  EXPECT_EQ(a.use_count(), 1u);
}

TEST_F(ConversionTest, WeakHasTheWeakPtrInterface) {
  Weak<Shape> weak;
  EXPECT_TRUE(weak.expired());
  EXPECT_EQ(weak.use_count(), 0u);
  Ref<Square> square = make<Square>(1.0);
  weak = square;  // from a Ref<Derived>
  Weak<Shape> copy = weak;
  EXPECT_EQ(weak.use_count(), 1u);
  Ref<Square> second = square;
  EXPECT_EQ(copy.use_count(), 2u);
  EXPECT_FALSE(copy.expired());
  Weak<Shape> moved = std::move(copy);
  EXPECT_TRUE(copy.expired());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(moved.lock().get(), static_cast<Shape*>(square.get()));
  Weak<Shape> other;
  swap(moved, other);
  EXPECT_TRUE(moved.expired());
  EXPECT_FALSE(other.expired());
  other.reset();
  EXPECT_TRUE(other.expired());
  square = nullptr;
  second = nullptr;
  EXPECT_TRUE(weak.expired());
  EXPECT_FALSE(weak.lock());
}

struct Widget : enable_ref_from_this<Widget> {
  static inline bool threw_in_constructor = false;
  static inline bool weak_empty_in_constructor = false;
  Widget() {
    try {
      (void)ref_from_this();
    } catch (const std::bad_weak_ptr&) {
      threw_in_constructor = true;
    }
    weak_empty_in_constructor = weak_from_this().expired();
  }
  Ref<Widget> self;
  void trace(Visitor& v) const { v("self", self); }
};
struct FancyWidget : Widget {
  int extra = 5;
};

TEST_F(ConversionTest, EnableRefFromThis) {
  Ref<Widget> w = make<Widget>();
  EXPECT_TRUE(Widget::threw_in_constructor);
  EXPECT_TRUE(Widget::weak_empty_in_constructor);
  Ref<Widget> again = w->ref_from_this();
  EXPECT_EQ(again, w);
  EXPECT_EQ(w.use_count(), 2u);
  EXPECT_EQ(w->weak_from_this().lock(), w);
  const Widget& cw = *w;
  Ref<const Widget> const_again = cw.ref_from_this();
  EXPECT_EQ(const_again.get(), w.get());
  // Made as a derived type, the base's weak reference still points at the whole object.
  Ref<FancyWidget> fancy = make<FancyWidget>();
  EXPECT_EQ(static_pointer_cast<FancyWidget>(fancy->ref_from_this())->extra, 5);
  // The object's weak reference to itself does not keep it alive, nor confuse the collector.
  Weak<Widget> weak = w;
  w->self = w;
  w = nullptr;
  again = nullptr;
  const_again = nullptr;
  EXPECT_FALSE(weak.expired());
  EXPECT_EQ(collect(), 1u);
  EXPECT_TRUE(weak.expired());
  EXPECT_THROW((void)Widget().ref_from_this(), std::bad_weak_ptr);  // not made by make<>
}

using CountLimitDeathTest = GcTest;

// A count that carried into the flags would read small and free a live object: the program
// stops instead, naming the object.
TEST_F(CountLimitDeathTest, AStrongCountAtItsLimitStopsTheProgram) {
  auto square = make<Square>(1.0);
  EXPECT_DEATH(
      {
        Ref<Square> keep = square;
        auto* h = reinterpret_cast<detail::ObjectHeader*>(
            reinterpret_cast<char*>(square.get()) -
            detail::TypeInfoFor<Square>::get().value_offset);
        for (std::uint32_t i = 0; i <= detail::ObjectHeader::kCountMask; ++i) detail::incref(h);
      },
      "strong reference count of <.*Square 0x[0-9a-f]+> reached its limit");
}

}  // namespace
}  // namespace cyclegc::testing
