// The leak report: one definition, shared by the agent that writes it and cyclegc-report that
// reads it (report/SCHEMA.md describes the JSON). Reading validates every field and reports the
// first problem with its JSON path, so a truncated or corrupt file gives one clear error.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cyclegc::report {

// Version 2 changed the cycle fingerprint (SCHEMA.md, "Shape"); version 1 reports are read too.
inline constexpr int kSchemaVersion = 2;
inline constexpr int kOldestSchemaVersion = 1;
inline constexpr const char* kSchemaName = "cyclegc-report";

struct Frame {
  std::string function;
  std::string file;
  int line = 0;
};

struct Stack {
  int id = 0;
  std::vector<Frame> frames;  // innermost (the allocation site) first
};

struct Object {
  int id = 0;
  std::string type;
  std::string address;  // "0x..."; for reading reports, never for identity across runs
  std::uint64_t size = 0;
  std::string label;    // the printable form, e.g. "Graph(one)"
  int generation = -1;  // 0..2, or -1 when not in a generation (garbage, untracked)
  int stack = -1;       // index into stacks, -1 without one
  std::uint32_t refcount = 0;
  std::uint32_t untraced_refs = 0;  // references no traced edge explains
  bool suppressed = false;
};

struct Edge {
  int from = 0;
  int to = 0;
  std::string label;  // "next", "kids[3]"
};

struct Cycle {
  int id = 0;
  std::vector<int> members;  // object ids, in the order a walk from the first meets them
  std::vector<Edge> edges;   // every edge between members
  Edge closing_edge;         // the edge back to where the walk started
  std::string shape;         // fingerprint of types and labels, stable across runs
};

struct Chain {
  int object = 0;
  std::string kind;        // "cycle": on or off a cycle; "holder": from an untraced holder
  int cycle = -1;          // for a cycle member: its cycle, whose walk is the chain around it
  std::vector<Edge> hops;  // otherwise: from the start of the chain to `object`
};

// Live tracked objects grouped by type and allocation site: what grows between two reports.
struct LiveGroup {
  std::string type;
  int stack = -1;
  std::uint64_t count = 0;
  std::uint64_t bytes = 0;
};

// Live objects at the program's end that the program still held (cyclegc/still_reachable.h),
// by holder: counted, never leaks, and not listed one by one.
struct StillReachableGroup {
  std::string kind;    // "stack" (a thread's stack, registers or thread-locals) or "global"
  std::string holder;  // "main thread", "thread 4242 (worker)", "g_sessions"
  std::uint64_t count = 0;
  std::uint64_t bytes = 0;
};

struct Collection {
  std::string trigger;
  int generation = 0;
  std::uint64_t collected = 0;
  std::uint64_t uncollectable = 0;
  double elapsed_s = 0;
  std::uint64_t unreadable = 0;  // kept alive because their containers could not be read
};

struct Process {
  int pid = 0;
  std::string executable;
  std::string options;       // CYCLEGC_OPTIONS as given
  std::string stack_method;  // "frame-pointer", "unwind" or "off"
  std::string reason;        // "exit", "signal", "interval"
  std::string time;          // UTC, ISO 8601
  // Whose objects these are: "" for cyclegc's collector, "std::shared_ptr" for the agent's
  // analysis of a program that does not use libcyclegc, whose fix is a std::weak_ptr.
  std::string heap;
};

struct Report {
  Process process;
  std::vector<Collection> collections;
  std::vector<Object> objects;
  std::vector<Stack> stacks;
  std::vector<Edge> edges;  // every edge between reported objects
  std::vector<int> collectable;
  std::vector<int> uncollectable;
  std::vector<int> saved_garbage;
  std::vector<int> untraced;  // live objects held by references no trace explains
  // Live leaked objects that no untraced reference holds: only leaked objects keep them alive.
  std::vector<int> held_by_leaks;
  std::vector<Cycle> cycles;
  std::vector<Chain> chains;
  std::vector<LiveGroup> live;
  std::vector<StillReachableGroup> still_reachable;  // exit reports only
};

// Process::heap of a report the std::shared_ptr analysis wrote: no collector ran there, and a
// cycle's fix is a std::weak_ptr.
inline constexpr std::string_view kSharedPtrHeap = "std::shared_ptr";
inline bool from_shared_ptr_heap(const Report& r) { return r.process.heap == kSharedPtrHeap; }

// "add_child (leaky_tree.cc:25)": the function without its parameter list (names such as
// "(anonymous namespace)::Foo::Run() const" keep their leading parts) and the file without its
// directories. What summaries, baselines and leak messages call an allocation site.
std::string site_text(const Frame& frame);
// The qualified name of a frame's function, without its return type, parameters or qualifiers:
// "cyclegc::Ref<Shape> make_shape<Circle>(int)" is "make_shape<Circle>". What decides whether a
// frame is in cyclegc, and what a site shows.
std::string function_name(absl::string_view function);
// A frame's whole signature as people write it: `std::string` for libstdc++'s
// `std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >`, and so on.
// For display only; the report keeps what the demangler said.
std::string readable_signature(absl::string_view function);

// The field an edge leaves by, as a fix names it: "Page::doc" for an edge labelled "doc" from a
// Page, "Document::pages" for "pages[3]".
std::string field_of(absl::string_view type, absl::string_view label);

// What the program still held at its end: its holders, those that held the most first, and how
// many objects they held in all.
struct StillReachableTotals {
  std::vector<const StillReachableGroup*> largest_first;  // into the report
  std::uint64_t objects = 0;
};
StillReachableTotals still_reachable_totals(const Report& r);

// Writing goes straight to text, handed to `sink` in pieces of about a megabyte.
void to_json(const Report& report, absl::FunctionRef<void(std::string_view)> sink);
std::string to_json(const Report& report);

// Reading holds the Report and one piece of the text at a time, never the whole text. Fails with
// InvalidArgument naming the byte offset (syntax) or JSON path (content); ResourceExhausted when
// the report does not fit in memory.
absl::StatusOr<Report> from_json(std::string_view text);
// The same from a file, which must be a regular file (see untrusted.h); NotFound or
// FailedPrecondition when it cannot be opened as one, Unavailable when reading it fails.
absl::StatusOr<Report> read_report_file(const std::string& path);

}  // namespace cyclegc::report
