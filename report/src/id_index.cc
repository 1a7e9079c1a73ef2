#include "cyclegc_report/id_index.h"

namespace cyclegc::report {

IdIndex::IdIndex(const std::vector<Object>& objects) : n_(objects.size()) {
  for (std::size_t i = 0; i < n_ && dense_; ++i) dense_ = objects[i].id == static_cast<int>(i);
  if (dense_) return;
  by_id_.reserve(n_);
  for (std::size_t i = 0; i < n_; ++i) {
    if (!by_id_.emplace(objects[i].id, i).second && first_duplicate_ < 0) {
      first_duplicate_ = static_cast<std::ptrdiff_t>(i);
    }
  }
}

}  // namespace cyclegc::report
