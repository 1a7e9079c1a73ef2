// Where a sample's source says an allocation happens: the line of its `// ALLOC: name` marker,
// so tests can expect allocation frames at that line without hard-coding line numbers.
#pragma once

#include <fstream>
#include <string>

namespace cyclegc::testing {

inline int alloc_line(const std::string& sample_path, const std::string& marker) {
  std::ifstream in(sample_path);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find("// ALLOC: " + marker) != std::string::npos) return n;
  }
  return -1;
}

}  // namespace cyclegc::testing
