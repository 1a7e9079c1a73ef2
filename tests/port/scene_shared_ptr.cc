// A scene graph written against std::shared_ptr, as such programs are: a Shape hierarchy,
// nodes that hand out shared_from_this() to their children (a strong parent pointer: each
// subtree is a cycle), casts, a std::set selection and a std::map index of nodes, and a worker
// pool that measures shapes. Each frame builds a scene, has the workers measure it and drops
// it. scene_cyclegc.cc is this file ported by renames alone, plus the trace members; the test
// (port_test.sh) checks that, and that the port frees its cycles while it runs.
// Usage: scene FRAMES
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

struct Node : std::enable_shared_from_this<Node> {
  explicit Node(std::string n) : name(std::move(n)) { ++nodes_made; }
  ~Node() { ++nodes_destroyed; }
  void add(const std::shared_ptr<Node>& child) {
    child->parent = shared_from_this();  // the back-pointer that makes every subtree a cycle
    children.push_back(child);
  }
  std::string name;
  std::shared_ptr<Node> parent;
  std::vector<std::shared_ptr<Node>> children;
  std::shared_ptr<Shape> shape;
  std::weak_ptr<Node> last_selected;
};

struct Scene {
  std::shared_ptr<Node> root = std::make_shared<Node>("root");
  std::map<std::string, std::shared_ptr<Node>> by_name;
  std::set<std::shared_ptr<Node>> selection;
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

std::shared_ptr<Scene> build_scene(int frame) {
  auto scene = std::make_shared<Scene>();
  for (int g = 0; g < 8; ++g) {
    auto group = std::make_shared<Node>("group" + std::to_string(g));
    scene->root->add(group);
    for (int i = 0; i < 16; ++i) {
      auto leaf = std::make_shared<Node>("leaf" + std::to_string(frame) + "." + std::to_string(i));
      if (i % 2) {
        leaf->shape = std::make_shared<Circle>(i);
      } else {
        leaf->shape = std::make_shared<Rect>(i, g + 1);
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
    std::shared_ptr<Scene> scene = build_scene(frame);
    std::mutex mu;
    std::condition_variable done;
    int pending = 0;
    double total = 0;
    for (const auto& [name, node] : scene->by_name) {
      std::shared_ptr<Shape> shape = node->shape;
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
    std::shared_ptr<Node> first = *scene->selection.begin();
    first->last_selected = first;
    scene->root->last_selected = static_pointer_cast<Node>(first);
  }
  std::printf("frames %d nodes %ld destroyed %ld circles %.0f\n", frames, nodes_made.load(),
              nodes_destroyed.load(), circles);
  return 0;
}
