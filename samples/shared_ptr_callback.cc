// A plain std::shared_ptr program: a connection registers a callback that captures
// shared_from_this(), and keeps that callback in a std::function member. The connection then
// owns a strong pointer to itself, through the closure, and is never freed.
#include <cstdio>
#include <functional>
#include <memory>
#include <string>

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  explicit Connection(std::string peer) : peer_(std::move(peer)) {}
  void start() {
    // The bug: capturing a weak_ptr (weak_from_this()) would not keep the connection alive.
    on_data_ = [self = shared_from_this()](const std::string& data) {
      self->received_ += data.size();
    };
  }
  void feed(const std::string& data) { on_data_(data); }
  std::size_t received() const { return received_; }

 private:
  std::string peer_;
  std::size_t received_ = 0;
  std::function<void(const std::string&)> on_data_;
};

int main() {
  auto c = std::make_shared<Connection>("example.org:443");
  c->start();
  c->feed("hello");
  std::printf("received %zu bytes\n", c->received());
}
