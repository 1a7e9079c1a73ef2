// A scene graph written against cyclegc::Ref, as such programs are: a Shape hierarchy,
// nodes that hand out ref_from_this() to their children (a strong parent pointer: each
// subtree is a cycle), casts, a std::set selection and a std::map index of nodes, and a worker
// pool that measures shapes. Each frame builds a scene, has the workers measure it and drops
// it. scene_cyclegc.cc is this file ported by renames alone, plus the trace members; the test
// (port_test.sh) checks that, and that the port frees its cycles while it runs.
// Usage: scene FRAMES
#include <cyclegc/cyclegc.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

std::atomic<long> nodes_made{0}, nodes_destroyed{0};

struct Shape {
  virtual ~Shape() = default;
  virtual double area() const = 0;
};
struct Circle : Shape {
  explicit Circle(double r) : radius(r) {}
  double area() const override { return 3.14159 * radius * radius; }
  double radius;
};
struct Rect : Shape {
  Rect(double w, double h) : width(w), height(h) {}
  double area() const override { return width * height; }
  double width, height;
};

struct Node : cyclegc::enable_ref_from_this<Node> {
  explicit Node(std::string n) : name(std::move(n)) { ++nodes_made; }
  ~Node() { ++nodes_destroyed; }
  void add(const cyclegc::Ref<Node>& child) {
    child->parent = ref_from_this();  // the back-pointer that makes every subtree a cycle
    children.push_back(child);
  }
  std::string name;
  cyclegc::Ref<Node> parent;
  std::vector<cyclegc::Ref<Node>> children;
  cyclegc::Ref<Shape> shape;
  cyclegc::Weak<Node> last_selected;
  void trace(cyclegc::Visitor& v) const {
    v("parent", parent);
    v("children", children);
    v("shape", shape);
  }
};

struct Scene {
  cyclegc::Ref<Node> root = cyclegc::make<Node>("root");
  std::map<std::string, cyclegc::Ref<Node>> by_name;
  std::set<cyclegc::Ref<Node>> selection;
  void trace(cyclegc::Visitor& v) const {
    v("root", root);
    v("by_name", by_name);
    v("selection", selection);
  }
};

// Workers that run tasks until told to stop.
class Pool {
 public:
  explicit Pool(int n) {
    for (int i = 0; i < n; ++i) threads_.emplace_back([this] { work(); });
  }
  ~Pool() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    ready_.notify_all();
    for (auto& t : threads_) t.join();
  }
  void submit(std::function<void()> task) {
    {
      std::lock_guard lock(mu_);
      tasks_.push_back(std::move(task));
    }
    ready_.notify_one();
  }

 private:
  void work() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock lock(mu_);
        ready_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
        if (tasks_.empty()) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }
  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

cyclegc::Ref<Scene> build_scene(int frame) {
  auto scene = cyclegc::make<Scene>();
  for (int g = 0; g < 8; ++g) {
    auto group = cyclegc::make<Node>("group" + std::to_string(g));
    scene->root->add(group);
    for (int i = 0; i < 16; ++i) {
      auto leaf = cyclegc::make<Node>("leaf" + std::to_string(frame) + "." + std::to_string(i));
      if (i % 2) {
        leaf->shape = cyclegc::make<Circle>(i);
      } else {
        leaf->shape = cyclegc::make<Rect>(i, g + 1);
      }
      group->add(leaf);
      scene->by_name[leaf->name] = leaf;
      if (i % 5 == 0) scene->selection.insert(leaf);
    }
  }
  return scene;
}

int main(int argc, char** argv) {
  const int frames = argc > 1 ? std::atoi(argv[1]) : 200;
  Pool pool(3);
  double circles = 0;
  for (int frame = 0; frame < frames; ++frame) {
    cyclegc::Ref<Scene> scene = build_scene(frame);
    std::mutex mu;
    std::condition_variable done;
    int pending = 0;
    double total = 0;
    for (const auto& [name, node] : scene->by_name) {
      cyclegc::Ref<Shape> shape = node->shape;
      if (auto circle = dynamic_pointer_cast<Circle>(shape)) circles += circle->radius;
      {
        std::lock_guard lock(mu);
        ++pending;
      }
      pool.submit([shape, &mu, &done, &pending, &total] {
        const double a = shape->area();
        std::lock_guard lock(mu);
        total += a;
        if (--pending == 0) done.notify_one();
      });
    }
    std::unique_lock lock(mu);
    done.wait(lock, [&] { return pending == 0; });
    cyclegc::Ref<Node> first = *scene->selection.begin();
    first->last_selected = first;
    scene->root->last_selected = static_pointer_cast<Node>(first);
  }
  std::printf("frames %d nodes %ld destroyed %ld circles %.0f\n", frames, nodes_made.load(),
              nodes_destroyed.load(), circles);
  return 0;
}
