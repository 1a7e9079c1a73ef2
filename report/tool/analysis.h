// What cyclegc-report computes from a report: leaks grouped into findings by cycle shape, by
// allocation site, the fields that fix a finding, and what breaking a cycle's closing edge or
// weakening those fields would free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cyclegc_report/id_index.h"
#include "cyclegc_report/report.h"

namespace cyclegc::report {

// Identical cycles (one shape, one status) as one finding, with a count, total bytes and one
// example. Garbage and live cycles of one shape are different findings: the collector frees
// the one, nothing frees the other.
struct ShapeFinding {
  std::string shape;
  // "collectable", "saved garbage", "uncollectable", or "live: held by untraced references"
  std::string status;
  std::vector<int> cycles;  // ids; the first is the example
  std::uint64_t objects = 0;
  std::uint64_t bytes = 0;
  bool suppressed = false;  // every member of every cycle suppressed
};

// Leaked objects counted by type and the first frame of their allocation stack.
struct SiteFinding {
  std::string type;
  std::string site;  // "add_child (leaky_tree.cc:25)", or "unknown"
  std::uint64_t objects = 0;
  std::uint64_t bytes = 0;
};

// Leaked objects held the same way — by untraced references, of one type, made at one site —
// as one finding with a count and an example.
struct HolderFinding {
  std::string type;
  std::string site;
  std::vector<int> objects;  // ids; the first is the example
  std::uint64_t bytes = 0;
  bool suppressed = false;  // every one suppressed
};

// An object or cycle named on the command line: "12" is object 12, "c3" is cycle 3.
struct Target {
  bool is_cycle = false;
  int id = -1;
};

struct Freed {
  std::vector<int> objects;
  std::uint64_t bytes = 0;
};

// A fix for a cycle finding: the fields whose edges, made Weak, break its cycles.
struct FixHint {
  std::vector<std::string> fields;  // "Page::doc", sorted
  std::size_t cycles = 0;           // of the finding's cycles, how many they break
  Freed freed;                      // what refcounting alone then frees
};

// "make Page::doc a Weak", "make Buffer::editor and Cursor::buffer Weak".
// `weak`: what a field becomes, "Weak" or "std::weak_ptr" (weak_kind).
std::string fix_text(const FixHint& hint, const std::string& weak);
std::string weak_kind(const Report& r);
// "make Page::doc a Weak (frees 3 cycles, 9 objects, 432 bytes); or make Document::pages a
// Weak": the best fix, what it does, and the others.
std::string fixes_line(const std::vector<FixHint>& hints, const std::string& weak);

class Analysis;
// "TreeNode -children[]-> TreeNode, TreeNode -parent-> TreeNode": a cycle's kinds of edges.
std::string shape_text(const Analysis& a, const Cycle& c);
// "1 Document + 3 Page": a cycle's members by type.
std::string member_types(const Analysis& a, const Cycle& c);

class Analysis {
 public:
  explicit Analysis(const Report& r);

  // Precondition of object(): has_object(id), which the reader ensures for every id it accepts.
  const Object& object(int id) const { return r_.objects[static_cast<std::size_t>(ids_.find(id))]; }
  bool has_object(int id) const { return ids_.find(id) >= 0; }
  // Objects that count as leaks: garbage and untraced holders, not suppressed.
  std::vector<int> leaked() const;
  std::vector<ShapeFinding> shapes() const;    // largest first
  std::vector<SiteFinding> sites() const;      // largest first
  std::vector<HolderFinding> holders() const;  // of `untraced`, largest first
  // Refcounting after the closing edge is cleared: the objects whose counts reach zero, in turn.
  // Costs what it frees and their edges, not the report's size: the html page asks it once per
  // shape.
  Freed freed_by_breaking(const Cycle& c) const;
  // The sets of fields whose edges, made Weak, leave the finding's example cycle without a
  // cycle: fewest fields first; then those whose edges point back at older objects (a report's
  // ids follow the order objects were made, so these are the back-pointers: Page::doc, not
  // Document::pages); then plain fields before containers. At most `max` hints of at most three
  // fields each. Costs the hints tried times the finding's members and edges.
  std::vector<FixHint> fix_hints(const ShapeFinding& f, std::size_t max = 3) const;
  // "function (file:line)" of an object's allocation site, or "unknown".
  std::string site_of(const Object& o) const;
  std::string describe(int id) const;         // "TreeNode(doc0)"
  std::string describe(const Edge& e) const;  // "TreeNode(para0).parent -> TreeNode(doc0)"
  // Parses `text` as an object id or, when `cycles_allowed`, "c<id>"; prints one line and returns
  // nothing when the report has no such object or cycle.
  std::optional<Target> target(const std::string& text, bool cycles_allowed) const;
  // An object's chain, root first: around its cycle for a member, else from the cycle or holder
  // it hangs off. A report writes each chain as its last hop (older ones wrote every hop; both
  // are read), so the path is followed from chain to chain: O(its length). At most `max_hops`
  // hops are returned, those nearest the object; `elided` (if given) counts the rest.
  std::vector<Edge> chain_path(int id, std::size_t max_hops = SIZE_MAX,
                               std::size_t* elided = nullptr) const;
  const Chain* chain(int id) const;
  // The report's edges into an object: what retains it (the page's retainers view).
  std::vector<const Edge*> retainers(int id) const;
  const Report& report() const { return r_; }

 private:
  const Report& r_;
  IdIndex ids_;
  std::vector<const Chain*> chain_of_;  // by position
  // Hops from each object back to its chain's root when the chain is written hop by hop, by
  // position; -1 until chain_path() first needs it. Filled once for a whole chain, so listing
  // every object of a tail of N costs O(N), not O(N^2).
  mutable std::vector<std::int64_t> hops_to_root_;
  std::size_t hops_to_root(std::size_t at) const;
  std::vector<std::string> site_of_stack_;
  // The report's edges by position of their source, as offsets into out_to_ (CSR).
  std::vector<std::size_t> out_begin_;
  std::vector<std::size_t> out_to_;
  std::vector<const char*> status_;    // by position: the garbage list an object is in, or null
  std::vector<std::size_t> out_edge_;  // the edge each out_to_ entry is, into r_.edges
  // The same edges by position of their target (CSR into in_edge_, indices into r_.edges).
  std::vector<std::size_t> in_begin_;
  std::vector<std::size_t> in_edge_;
  // The field of each edge of r_.edges ("Page::doc"), made once.
  std::vector<std::string> field_of_edge_;
  // Refcounting once the edges of `weak_fields` (sorted) stop counting: the objects whose counts
  // reach zero, starting from one reference less to each of `targets`.
  Freed freed_when_dropped(const std::vector<int>& targets,
                           const std::vector<std::string>& weak_fields) const;
};

}  // namespace cyclegc::report
