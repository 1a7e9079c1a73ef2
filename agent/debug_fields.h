// Member names and kinds of the program's shared types, from its DWARF (elfutils' libdw): what
// turns the heap analysis's offsets into `Node::kids[2]`, and tells a std::weak_ptr member from
// a std::shared_ptr one, which look alike in memory. Without debug information, or for a type
// it cannot pin down (two definitions of one name, a local class), it knows nothing, and the
// analysis falls back to its weak-count arithmetic (heap_scan.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace cyclegc::agent {

enum class Strength : std::uint8_t { kUnknown, kStrong, kWeak };

// One member of a type, flattened: the members of its bases and of member structs that are the
// program's own are listed themselves ("config.owner"); the standard library's types (smart
// pointers, containers, std::function) are leaves.
struct Field {
  std::uint64_t offset = 0, size = 0;
  std::string name;
  // Of a pair at the member itself (a shared_ptr, a weak_ptr) or in blocks it owns (a container
  // of either): from the member's type, kUnknown when it could hold both or neither is named.
  Strength strength = Strength::kUnknown;
  std::uint64_t element_size = 0;  // for an array member: its elements' size, else 0
  // For a std::optional: where its engaged flag is, from the member's start. A disengaged
  // optional keeps the bytes of the value it destroyed, which are no reference.
  std::int64_t engaged_at = -1;
};

struct TypeLayout {
  std::uint64_t size = 0;
  std::vector<Field> fields;  // by offset
  // The field at `offset`, or null (padding, or past the end).
  const Field* at(std::uint64_t offset) const;
};

class DebugFields {
 public:
  // Reads the debug information of every module of this process that has any, for `types`
  // (demangled names as the control blocks give them). Null when no module has any.
  static std::unique_ptr<DebugFields> load(const std::vector<std::string>& types);
  const TypeLayout* layout(const std::string& type) const;

 private:
  absl::flat_hash_map<std::string, TypeLayout> layouts_;
};

}  // namespace cyclegc::agent
