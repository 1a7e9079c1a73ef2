// Object ids to positions in a report's `objects`. The agent numbers objects 0..N-1 in order;
// then an id is its own position and no table is built. Any other numbering (an older writer, a
// hand-made or hostile report) is looked up by hash. Either way the cost follows the number of
// objects, never the size of an id: an id of INT_MAX costs what any other does.
#pragma once

#include <cstddef>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "cyclegc_report/report.h"

namespace cyclegc::report {

class IdIndex {
 public:
  explicit IdIndex(const std::vector<Object>& objects);

  // The position of `id` in `objects`, or -1 when no object has it.
  std::ptrdiff_t find(int id) const {
    if (dense_) return id >= 0 && static_cast<std::size_t>(id) < n_ ? id : -1;
    auto it = by_id_.find(id);
    return it == by_id_.end() ? -1 : static_cast<std::ptrdiff_t>(it->second);
  }
  std::size_t size() const { return n_; }
  // The position of the first object whose id an earlier one already has, or -1.
  std::ptrdiff_t first_duplicate() const { return first_duplicate_; }

 private:
  std::size_t n_;
  bool dense_ = true;
  std::ptrdiff_t first_duplicate_ = -1;
  absl::flat_hash_map<int, std::size_t> by_id_;
};

}  // namespace cyclegc::report
