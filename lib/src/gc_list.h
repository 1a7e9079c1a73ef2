// Circular doubly-linked lists of GcLinks with a sentinel head: the generations, the permanent
// generation and the collector's working lists. Moving an object between lists is O(1), and an
// object can unlink itself from whichever list it is on when refcounting frees it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "cyclegc/object_header.h"

namespace cyclegc::detail {

inline std::uintptr_t prev_word(const GcLinks* node) {
  return node->prev.load(std::memory_order_relaxed);
}
inline void set_prev_word(GcLinks* node, std::uintptr_t word) {
  node->prev.store(word, std::memory_order_relaxed);
}
inline GcLinks* list_prev(const GcLinks* node) {
  return reinterpret_cast<GcLinks*>(prev_word(node));
}
inline void set_prev(GcLinks* node, GcLinks* prev) {
  set_prev_word(node, reinterpret_cast<std::uintptr_t>(prev));
}

inline void list_init(GcLinks* head) {
  head->next = head;
  set_prev(head, head);
}
inline bool list_empty(const GcLinks* head) { return head->next == head; }

inline void list_append(GcLinks* node, GcLinks* head) {
  GcLinks* last = list_prev(head);
  last->next = node;
  set_prev(node, last);
  node->next = head;
  set_prev(head, node);
}

inline void list_remove(GcLinks* node) {
  GcLinks* prev = list_prev(node);
  prev->next = node->next;
  set_prev(node->next, prev);
  node->next = nullptr;
  set_prev_word(node, 0);
}

inline void list_move(GcLinks* node, GcLinks* head) {
  list_remove(node);
  list_append(node, head);
}

// Appends all of `from` to `to`; `from` is left empty.
inline void list_merge(GcLinks* from, GcLinks* to) {
  if (list_empty(from)) return;
  GcLinks* to_last = list_prev(to);
  to_last->next = from->next;
  set_prev(from->next, to_last);
  list_prev(from)->next = to;
  set_prev(to, list_prev(from));
  list_init(from);
}

inline std::size_t list_size(const GcLinks* head) {
  std::size_t n = 0;
  for (const GcLinks* l = head->next; l != head; l = l->next) ++n;
  return n;
}

// An object taken off every list by the collector, to be freed without the lock: its `prev` holds
// this value, which no pointer and no scratch word can equal.
inline constexpr std::uintptr_t kDetached = 1;
inline bool is_detached(const GcLinks* node) { return prev_word(node) == kDetached; }

// Restores the prev pointers from the next pointers after the collector borrowed them.
inline void list_relink(GcLinks* head) {
  GcLinks* prev = head;
  for (GcLinks* l = head->next; l != head; l = l->next) {
    set_prev(l, prev);
    prev = l;
  }
  set_prev(head, prev);
}

}  // namespace cyclegc::detail
