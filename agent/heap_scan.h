// The std::shared_ptr analysis: CPython's trial deletion on a heap the agent did not build.
//
// libstdc++ keeps every shared object's counts in a control block (bits/shared_ptr_base.h): a
// vtable pointer, then _M_use_count and _M_weak_count. A live block whose first word points at
// a vtable whose type_info names std::_Sp_counted_ptr_inplace<T, ...> (make_shared),
// _Sp_counted_ptr<T*, ...> (shared_ptr(new T)) or _Sp_counted_deleter<T*, ...> is one; it gives
// T's name, its counts, and where the T lives. Every pointer is checked against the process's
// mappings before it is read, so a stale or made-up address never faults.
//
// A shared_ptr and a weak_ptr are both {element pointer, control-block pointer} in memory.
// Scanning each T, and the blocks it owns (vector buffers, map and list nodes, unique_ptr
// members: blocks reached by a pointer to their start, each scanned once), for such pairs gives
// the references between shared objects. What the pairs cannot say is which are weak; the
// control block's weak count says how many weak_ptrs exist (weak_count - 1 while the object
// lives), so at least (pairs found - weak_ptrs) of the pairs are strong. That lower bound is
// what trial deletion subtracts, which can only leave more references unexplained — the object
// stays live — never fewer: no live object is called garbage for want of knowing.
//
// Storage a container keeps after destroying what it held still holds the pairs' words (a
// destroyed shared_ptr is not zeroed): a vector's buffer is scanned to its end, not its
// capacity, and, with debug information, a disengaged std::optional not at all. A stale pair
// counted would explain a reference that is gone, and call what it held leaked.
//
// With debug information (debug_fields.h) a pair in a std::shared_ptr member is strong and one in
// a std::weak_ptr member weak, and only the pairs it cannot place (a closure's capture in a
// std::function) are left to the count: at least (unplaced - weak_ptrs not placed) of them are
// strong. Where the two disagree (more weak members than weak_ptrs), the count alone decides.
//
//   unexplained = use_count - strong pairs found (at least)
//   live        = unexplained > 0, or reachable from a live object by a pair or an owned block
//   leaked      = the rest: held only by other leaked objects
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "debug_fields.h"
#include "live_blocks.h"
#include "object_graph.h"

namespace cyclegc::detail {
class MemoryMap;
}

namespace cyclegc::agent {

struct SharedObject {
  std::uintptr_t control = 0;  // the control block
  std::uintptr_t value = 0;    // the T: [value, value_end), empty when not on the tracked heap
  std::uintptr_t value_end = 0;
  std::uint32_t type = 0;  // T: into HeapAnalysis::types
  std::uint32_t use_count = 0;
  std::uint32_t weak_ptrs = 0;  // weak_ptrs that exist (enable_shared_from_this's own included)
  std::uint32_t stack = 0;      // allocation stack of the T's block (AllocationStacks id)
  std::uint32_t pairs_in = 0;   // {pointer, control block} pairs found pointing here
  std::uint32_t strong_in = 0;  // of which certainly strong
  bool named = false;           // its type's members are known from debug information
  std::uint32_t unexplained = 0;
  bool leaked = false;
};

struct HeapAnalysis {
  std::vector<SharedObject> objects;  // every control block whose object is alive
  std::vector<std::string> types;     // their types, demangled
  // Pairs between objects that may be strong, labelled by member ("parent", "kids[3]": the 4th
  // pair in the blocks `kids` owns) or, without debug information, by offset ("+16", "+8[3]").
  Graph graph;
  bool inferred = false;   // some leaked object's type had no debug information
  std::size_t blocks = 0;  // live blocks examined
};

// With the table's locks held: finds the control blocks among `blocks`, their references, and
// which objects are leaked, naming members from what `debug_for(types found)` gives (may be
// null), asked once.
HeapAnalysis analyze_heap(
    const LiveBlocks& blocks, const detail::MemoryMap& map,
    absl::FunctionRef<const DebugFields*(const std::vector<std::string>&)> debug_for);
// A scan runs while the program's other threads run, allocating threads excepted: a thread
// that moves a shared_ptr from an object the scan has not reached to one it has passed makes a
// pair counted twice, which explains a reference held from outside. So where other threads
// run, a second scan confirms each leak: an object stays leaked in `a` only when `again` found
// it leaked with the same counts, and what an unconfirmed object holds is live. (A false leak
// then needs the same race in both scans.)
void confirm_leaks(HeapAnalysis& a, const HeapAnalysis& again);

// With the table's locks held: the types of the shared objects alive, whose debug information
// the analysis will want — loaded between the two, without the locks, as reading a program's
// DWARF may take a while that allocating threads should not wait.
std::vector<std::string> shared_types(const LiveBlocks& blocks, const detail::MemoryMap& map);

// "std::_Sp_counted_ptr_inplace<Node, std::allocator<void>, (__gnu_cxx::_Lock_policy)2>" ->
// "Node"; "" when the name is not a control block's. Exposed for tests.
std::string shared_type_of(const std::string& control_block_type);

}  // namespace cyclegc::agent
