#include "heap_scan.h"

#include <cxxabi.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "memory_map.h"

namespace cyclegc::agent {
namespace {

using Word = std::uintptr_t;

enum class Kind { kNone, kInplace, kPointer, kDeleter };

struct VtableInfo {
  Kind kind = Kind::kNone;
  std::string type;           // T
  std::uint32_t type_id = 0;  // into HeapAnalysis::types
};

Word read_word(Word at) {
  Word w;
  std::memcpy(&w, reinterpret_cast<const void*>(at), sizeof w);
  return w;
}

// The mangled type_info name behind vtable pointer `vptr`, or "" when `vptr` is not one we can
// read: the vtable's word before its first entry points at the type_info, whose second word is
// the name.
std::string type_info_name(Word vptr, const detail::MemoryMap& map) {
  const detail::Mapping* m = map.find(vptr);
  // Vtables are in the loaded objects' images, never in anonymous memory or the heap.
  if (m == nullptr || m->path.empty() || m->path[0] == '[' || vptr % alignof(Word) != 0 ||
      !map.readable(vptr - 2 * sizeof(Word), vptr)) {
    return "";
  }
  const Word type_info = read_word(vptr - sizeof(Word));
  if (type_info % alignof(Word) != 0 || !map.readable(type_info, type_info + 2 * sizeof(Word)))
    return "";
  const Word name = read_word(type_info + sizeof(Word));
  const detail::Mapping* nm = map.find(name);
  if (nm == nullptr) return "";
  const std::size_t room = std::min<std::size_t>(nm->hi - name, 4096);
  const char* text = reinterpret_cast<const char*>(name);
  const std::size_t length = strnlen(text, room);
  if (length == room) return "";
  return std::string(text, length);
}

// The first template argument of `name` ("A<B<C>, D>" -> "B<C>"), or "".
std::string first_argument(const std::string& name) {
  const std::size_t open = name.find('<');
  if (open == std::string::npos) return "";
  int depth = 0;
  for (std::size_t i = open + 1; i < name.size(); ++i) {
    const char c = name[i];
    if (c == '<' || c == '(' || c == '[') ++depth;
    if (c == '>' || c == ')' || c == ']') {
      if (depth == 0) return name.substr(open + 1, i - open - 1);
      --depth;
    }
    if (c == ',' && depth == 0) return name.substr(open + 1, i - open - 1);
  }
  return "";
}

std::string demangle(const std::string& mangled) {
  // GCC marks a type_info name that must be compared by address with a leading '*'.
  const char* name = mangled.c_str() + (mangled[0] == '*' ? 1 : 0);
  int status = 0;
  char* out = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  if (status != 0 || out == nullptr) return "";
  std::string result(out);
  std::free(out);
  return result;
}

VtableInfo classify(const std::string& mangled) {
  const char* name = mangled.c_str() + (!mangled.empty() && mangled[0] == '*' ? 1 : 0);
  Kind kind = Kind::kNone;
  if (absl::StartsWith(name, "St23_Sp_counted_ptr_inplaceI")) {
    kind = Kind::kInplace;
  } else if (absl::StartsWith(name, "St15_Sp_counted_ptrI")) {
    kind = Kind::kPointer;
  } else if (absl::StartsWith(name, "St19_Sp_counted_deleterI")) {
    kind = Kind::kDeleter;
  }
  if (kind == Kind::kNone) return {};
  std::string type = shared_type_of(demangle(mangled));
  if (type.empty()) return {};
  return {kind, std::move(type)};
}

// Where the constructed part of block `b` ends, for the pointer to it at `at` (in a region
// ending at `hi`). A std::vector is three words, {begin, end, capacity end}: its elements past
// `end` were destroyed, and a destroyed shared_ptr leaves its two words behind, so scanning a
// buffer to its capacity would count references that are gone and call what they held leaked.
// Any three ascending words from a block's start to inside it are read so: a false match only
// hides pairs, which leaves their targets live.
Word constructed_end(const LiveBlock& b, Word at, Word hi) {
  if (at + 3 * sizeof(Word) > hi) return b.address + b.size;
  const Word end = read_word(at + sizeof(Word)), capacity = read_word(at + 2 * sizeof(Word));
  if (b.address <= end && end <= capacity && capacity <= b.address + b.size && b.address < capacity)
    return end;
  return b.address + b.size;
}

}  // namespace

std::string shared_type_of(const std::string& control_block_type) {
  const bool inplace = absl::StartsWith(control_block_type, "std::_Sp_counted_ptr_inplace<");
  if (!inplace && !absl::StartsWith(control_block_type, "std::_Sp_counted_ptr<") &&
      !absl::StartsWith(control_block_type, "std::_Sp_counted_deleter<")) {
    return "";
  }
  std::string t = first_argument(control_block_type);
  if (!inplace) {
    if (t.empty() || t.back() != '*') return "";
    t.pop_back();
  }
  while (!t.empty() && t.back() == ' ') t.pop_back();
  return t;
}

namespace {

// Whether some leaked object's edges come from the counts alone (HeapAnalysis::inferred).
bool any_leak_inferred(const HeapAnalysis& a) {
  return std::any_of(a.objects.begin(), a.objects.end(),
                     [](const SharedObject& o) { return o.leaked && !o.named; });
}

// 1. Control blocks, by their vtables, with the objects they count.
struct Found {
  std::vector<SharedObject> objects;
  std::vector<Kind> kinds;  // of each object's control block
  std::vector<std::string> types;
  std::size_t blocks = 0;  // live blocks examined
};
constexpr Word kHeader = 2 * sizeof(Word);  // vptr, then the two 32-bit counts

Found find_control_blocks(const LiveBlocks& blocks, const detail::MemoryMap& map) {
  Found found;
  absl::flat_hash_map<Word, VtableInfo> vtables;  // every vptr candidate met, control block or not
  absl::flat_hash_map<std::string, std::uint32_t> type_ids;
  auto examine = [&](const LiveBlock& b) {
    ++found.blocks;
    if (b.size < kHeader || !map.readable(b.address, b.address + b.size)) return;
    const Word vptr = read_word(b.address);
    if (vptr < 4096 || vptr % alignof(Word) != 0) return;
    auto [it, added] = vtables.try_emplace(vptr);
    if (added) {
      const std::string mangled = type_info_name(vptr, map);
      if (!mangled.empty()) it->second = classify(mangled);
      if (it->second.kind != Kind::kNone) {
        auto [t, new_type] = type_ids.try_emplace(it->second.type, found.types.size());
        if (new_type) found.types.push_back(it->second.type);
        it->second.type_id = t->second;
      }
    }
    if (it->second.kind == Kind::kNone) return;
    std::int32_t use, weak;
    std::memcpy(&use, reinterpret_cast<const char*>(b.address) + sizeof(Word), sizeof use);
    std::memcpy(&weak, reinterpret_cast<const char*>(b.address) + sizeof(Word) + 4, sizeof weak);
    if (use <= 0 || weak < 1) return;  // expired (only weak_ptrs left), or not what it seemed
    SharedObject o;
    o.control = b.address;
    o.type = it->second.type_id;
    o.use_count = static_cast<std::uint32_t>(use);
    o.weak_ptrs = static_cast<std::uint32_t>(weak - 1);
    o.stack = b.stack;
    found.objects.push_back(o);
    found.kinds.push_back(it->second.kind);
  };
  // The table is in hash order, so each block's first word is a cache miss: it is fetched a
  // few blocks ahead of its turn.
  constexpr std::size_t kAhead = 16;
  LiveBlock pending[kAhead];
  std::size_t seen = 0;
  blocks.for_each_locked([&](const LiveBlock& b) {
    __builtin_prefetch(reinterpret_cast<const void*>(b.address));
    if (seen >= kAhead) examine(pending[seen % kAhead]);
    pending[seen++ % kAhead] = b;
  });
  for (std::size_t i = seen > kAhead ? seen - kAhead : 0; i < seen; ++i) {
    examine(pending[i % kAhead]);
  }
  return found;
}

}  // namespace

std::vector<std::string> shared_types(const LiveBlocks& blocks, const detail::MemoryMap& map) {
  return find_control_blocks(blocks, map).types;
}

HeapAnalysis analyze_heap(
    const LiveBlocks& blocks, const detail::MemoryMap& map,
    absl::FunctionRef<const DebugFields*(const std::vector<std::string>&)> debug_for) {
  HeapAnalysis a;
  absl::flat_hash_map<Word, int> by_control;
  Found found = find_control_blocks(blocks, map);
  a.objects = std::move(found.objects);
  a.types = std::move(found.types);
  a.blocks = found.blocks;
  std::vector<Kind> kinds = std::move(found.kinds);
  // In about the order they were made, as a report walks each cycle from its oldest member:
  // stacks are numbered as first met, and a fresh heap grows upwards. (The table's own order is
  // its hash's.) From the oldest, the edge that closes a cycle is the back pointer to it.
  {
    std::vector<std::tuple<std::uint32_t, Word, int>> order(a.objects.size());
    for (std::size_t i = 0; i < order.size(); ++i) {
      order[i] = {a.objects[i].stack, a.objects[i].control, static_cast<int>(i)};
    }
    std::sort(order.begin(), order.end());
    std::vector<SharedObject> objects;
    std::vector<Kind> sorted_kinds;
    objects.reserve(order.size());
    sorted_kinds.reserve(order.size());
    by_control.reserve(order.size());
    for (const auto& [stack, control, i] : order) {
      by_control[a.objects[i].control] = static_cast<int>(objects.size());
      objects.push_back(std::move(a.objects[i]));
      sorted_kinds.push_back(kinds[i]);
    }
    a.objects = std::move(objects);
    kinds = std::move(sorted_kinds);
  }

  // Where each T lives: inside its control block (make_shared), or in a block of its own that
  // the control block points at (its allocation stack is then the object's).
  absl::flat_hash_map<Word, int> value_block;  // separate T blocks, by address
  for (std::size_t i = 0; i < a.objects.size(); ++i) {
    SharedObject& o = a.objects[i];
    const LiveBlock* cb = blocks.find_locked(o.control);
    if (kinds[i] == Kind::kInplace) {
      o.value = o.control + kHeader;
      o.value_end = o.control + cb->size;
      continue;
    }
    // _Sp_counted_ptr keeps the pointer right after the counts; _Sp_counted_deleter does too
    // when its deleter and allocator are empty, and after them otherwise.
    for (Word at = o.control + kHeader; at + sizeof(Word) <= o.control + cb->size;
         at += sizeof(Word)) {
      const LiveBlock* t = blocks.find_locked(read_word(at));
      if (t != nullptr && by_control.find(t->address) == by_control.end()) {
        o.value = t->address;
        o.value_end = t->address + t->size;
        if (t->stack != 0) o.stack = t->stack;
        value_block[t->address] = static_cast<int>(i);
        break;
      }
      if (kinds[i] == Kind::kPointer) break;
    }
  }

  // The members of the types found, where debug information has them.
  const DebugFields* debug = a.objects.empty() ? nullptr : debug_for(a.types);
  std::vector<const TypeLayout*> layout_of(a.objects.size(), nullptr);
  for (std::size_t i = 0; debug && i < a.objects.size(); ++i) {
    SharedObject& o = a.objects[i];
    const TypeLayout* layout = debug->layout(a.types[o.type]);
    // A layout larger than the object is another type of the same name.
    if (layout != nullptr && layout->size <= o.value_end - o.value) {
      layout_of[i] = layout;
      o.named = true;
    }
  }

  // 2. The pairs in every T and in the blocks it owns. Each block is scanned once, by the first
  // object that reaches it, so that no pair is counted twice; an object that reaches a block
  // another owns is kept alive by that owner if it lives (`keeps`), never counted.
  struct Pair {
    int from, to, name;
    std::size_t index;
    Strength strength;
  };
  std::vector<Pair> pairs;
  std::vector<std::pair<int, int>> keeps;
  absl::flat_hash_map<Word, int> owner;  // plain blocks, by the object that owns them
  absl::flat_hash_map<std::string, int> name_id;
  auto intern = [&](std::string name) {
    auto [it, added] = name_id.try_emplace(std::move(name), static_cast<int>(a.graph.names.size()));
    if (added) a.graph.names.push_back(it->first);
    return it->second;
  };
  // What a word at `offset` in object i is: its member (name, index in an array member, the
  // strength of pairs there or in blocks it owns), or its offset when no member is known.
  struct Place {
    int name = 0;
    std::size_t index = Graph::kNoIndex;
    Strength strength = Strength::kUnknown;
  };
  auto place = [&](int i, Word offset) -> Place {
    const Field* f = layout_of[i] ? layout_of[i]->at(offset) : nullptr;
    if (f == nullptr)
      return {intern(absl::StrCat("+", offset)), Graph::kNoIndex, Strength::kUnknown};
    const std::size_t index =
        f->element_size ? (offset - f->offset) / f->element_size : Graph::kNoIndex;
    return {intern(f->name), index, f->strength};
  };
  // True when the word at `offset` in object i (at `value`) is inside a disengaged optional.
  auto disengaged = [&](int i, Word offset, Word value) {
    const Field* f = layout_of[i] ? layout_of[i]->at(offset) : nullptr;
    if (f == nullptr || f->engaged_at < 0 || f->offset + f->engaged_at >= layout_of[i]->size)
      return false;
    return *reinterpret_cast<const char*>(value + f->offset + f->engaged_at) == 0;
  };
  struct Region {
    Word lo, hi;
    bool owned;  // false for the T itself; true for a block it owns through `through`
    Place through;
  };
  std::vector<Region> work;
  absl::flat_hash_map<int, std::size_t> next_index;  // by member name
  for (int i = 0; i < static_cast<int>(a.objects.size()); ++i) {
    const SharedObject& o = a.objects[i];
    if (o.value_end <= o.value) continue;
    work.push_back({o.value, o.value_end, false, {}});
    // Pairs in the blocks a member owns are numbered across all of them, in the order met: a
    // vector's in element order, a map's node by node. A member known to own one closure or
    // object (a std::function, a unique_ptr) numbers none.
    next_index.clear();
    while (!work.empty()) {
      const Region r = work.back();
      work.pop_back();
      if (!map.readable(r.lo, r.hi)) continue;
      for (Word at = (r.lo + sizeof(Word) - 1) & ~(sizeof(Word) - 1); at + sizeof(Word) <= r.hi;
           at += sizeof(Word)) {
        if (!r.owned && disengaged(i, at - r.lo, r.lo)) continue;
        const Word w = read_word(at);
        if (w < 4096) continue;
        if (at + 2 * sizeof(Word) <= r.hi) {
          const auto c = by_control.find(read_word(at + sizeof(Word)));
          if (c != by_control.end()) {
            const SharedObject& target = a.objects[c->second];
            if (w >= target.value && w < std::max(target.value_end, target.value + 1)) {
              const Place p = r.owned ? r.through : place(i, at - r.lo);
              std::size_t index = p.index;
              if (r.owned && (layout_of[i] == nullptr || p.strength != Strength::kUnknown)) {
                index = next_index[p.name]++;
              }
              pairs.push_back({i, c->second, p.name, index, p.strength});
              at += sizeof(Word);
              continue;
            }
          }
        }
        if (by_control.count(w) || value_block.count(w)) continue;  // another object's
        const LiveBlock* b = blocks.find_locked(w);
        if (b == nullptr) continue;
        auto [it, added] = owner.try_emplace(w, i);
        if (added) {
          work.push_back({b->address, constructed_end(*b, at, r.hi), true,
                          r.owned ? r.through : place(i, at - r.lo)});
        } else if (it->second != i) {
          keeps.emplace_back(i, it->second);
        }
      }
    }
  }

  // 3. Trial deletion. Per object: the pairs debug information calls strong or weak, and the
  // rest, of which at least (rest - weak_ptrs not accounted for) are strong.
  const int n = static_cast<int>(a.objects.size());
  std::vector<std::uint32_t> strong(n, 0), weak(n, 0), unplaced(n, 0);
  for (const Pair& p : pairs) {
    ++a.objects[p.to].pairs_in;
    (p.strength == Strength::kStrong ? strong
     : p.strength == Strength::kWeak ? weak
                                     : unplaced)[p.to]++;
  }
  // Where the members and the counts disagree, the counts alone decide, for every pair into it.
  std::vector<bool> counted_only(n, false);
  for (int i = 0; i < n; ++i) {
    SharedObject& o = a.objects[i];
    counted_only[i] = weak[i] > o.weak_ptrs || strong[i] > o.use_count;
    if (counted_only[i]) {
      o.strong_in = o.pairs_in > o.weak_ptrs ? o.pairs_in - o.weak_ptrs : 0;
    } else {
      const std::uint32_t weak_left = o.weak_ptrs - weak[i];
      o.strong_in = strong[i] + (unplaced[i] > weak_left ? unplaced[i] - weak_left : 0);
    }
    o.unexplained = o.use_count > o.strong_in ? o.use_count - o.strong_in : 0;
  }
  // A pair is followed — keeps its target alive, and is drawn — unless it is surely weak, or
  // all that is unplaced into its target may be weak.
  auto followed = [&](const Pair& p) {
    if (counted_only[p.to]) return a.objects[p.to].strong_in > 0;
    if (p.strength == Strength::kStrong) return true;
    if (p.strength == Strength::kWeak) return false;
    return a.objects[p.to].strong_in > strong[p.to];
  };
  // 4. What the unexplained references hold, through any pair (any of them may be the strong
  // one) and through blocks owned by another object, is live; the rest is leaked.
  std::vector<std::vector<int>> out(n);
  for (const Pair& p : pairs) {
    if (followed(p)) out[p.from].push_back(p.to);
  }
  for (auto [from, to] : keeps) out[from].push_back(to);
  std::vector<bool> live(n, false);
  std::deque<int> queue;
  for (int i = 0; i < n; ++i) {
    if (a.objects[i].unexplained > 0) {
      live[i] = true;
      queue.push_back(i);
    }
  }
  while (!queue.empty()) {
    const int v = queue.front();
    queue.pop_front();
    for (int w : out[v]) {
      if (!live[w]) {
        live[w] = true;
        queue.push_back(w);
      }
    }
  }
  for (int i = 0; i < n; ++i) a.objects[i].leaked = !live[i];
  a.inferred = any_leak_inferred(a);

  // The graph a report shows: the pairs followed. (Into an object whose pairs may all be weak —
  // a weak parent, enable_shared_from_this's own — a pair closes no cycle.)
  std::sort(pairs.begin(), pairs.end(),
            [](const Pair& x, const Pair& y) { return x.from < y.from; });
  a.graph.first.assign(n + 1, 0);
  for (const Pair& p : pairs) {
    if (!followed(p)) continue;
    ++a.graph.first[p.from + 1];
    a.graph.out.push_back({p.to, p.name, p.index});
  }
  for (int i = 0; i < n; ++i) a.graph.first[i + 1] += a.graph.first[i];
  return a;
}

void confirm_leaks(HeapAnalysis& a, const HeapAnalysis& again) {
  absl::flat_hash_set<std::tuple<Word, std::uint32_t, std::uint32_t>> leaked_again;
  for (const SharedObject& o : again.objects) {
    if (o.leaked) leaked_again.insert({o.control, o.use_count, o.weak_ptrs});
  }
  std::deque<int> queue;
  const int n = static_cast<int>(a.objects.size());
  for (int i = 0; i < n; ++i) {
    SharedObject& o = a.objects[i];
    if (o.leaked && !leaked_again.contains({o.control, o.use_count, o.weak_ptrs})) o.leaked = false;
    if (!o.leaked) queue.push_back(i);
  }
  // What an object found live after all holds is live too.
  while (!queue.empty()) {
    const int v = queue.front();
    queue.pop_front();
    for (const Graph::Out& e : a.graph.edges_of(v)) {
      if (a.objects[e.to].leaked) {
        a.objects[e.to].leaked = false;
        queue.push_back(e.to);
      }
    }
  }
  a.inferred = any_leak_inferred(a);
}

}  // namespace cyclegc::agent
