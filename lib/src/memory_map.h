// The process's mappings as /proc/self/maps lists them, for the conservative scan
// (still_reachable.cc): it reads only memory inside a readable mapping, so a stale or made-up
// address found in the program's memory can never fault it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace cyclegc::detail {

struct Mapping {
  std::uintptr_t lo = 0, hi = 0;  // [lo, hi)
  bool readable = false, writable = false;
  std::string path;  // "" for anonymous memory, "[heap]", "[stack]", or a file
};

class MemoryMap {
 public:
  // Empty when /proc/self/maps cannot be read.
  static std::optional<MemoryMap> read_self();

  // The readable mapping containing `address`, or null.
  const Mapping* find(std::uintptr_t address) const;
  // Whether [lo, hi) lies inside one readable mapping.
  bool readable(std::uintptr_t lo, std::uintptr_t hi) const;
  // The parts of [lo, hi) that lie in readable mappings.
  std::vector<std::pair<std::uintptr_t, std::uintptr_t>> readable_parts(std::uintptr_t lo,
                                                                        std::uintptr_t hi) const;

 private:
  std::vector<Mapping> mappings_;  // sorted, disjoint
};

}  // namespace cyclegc::detail
