// A plain std::shared_ptr program: a subject keeps its observers in a std::vector, and each
// observer keeps a strong pointer back at the subject it watches. Dropping the subject frees
// neither it nor its observers.
#include <cstdio>
#include <memory>
#include <vector>

struct Observer;

struct Subject {
  int value = 0;
  std::vector<std::shared_ptr<Observer>> observers;
};

struct Observer {
  int seen = 0;
  std::shared_ptr<Subject> subject;  // the bug: the subject owns its observers, not the reverse
};

void watch(const std::shared_ptr<Subject>& subject) {
  auto o = std::make_shared<Observer>();
  o->subject = subject;
  subject->observers.push_back(o);
}

int main() {
  auto subject = std::make_shared<Subject>();
  for (int i = 0; i < 2; ++i) watch(subject);
  std::printf("%zu observers\n", subject->observers.size());
}
