// Reading a report: the top-level object is walked by JsonStream, each array's elements are
// parsed by simdjson a batch at a time and turned into the Report's structs, and every field's
// presence and type is checked by hand so that an error names the JSON path where it is wrong.
// Memory is the Report plus one batch; the first byte that cannot start a report fails at once.
#include <fcntl.h>
#include <unistd.h>

#include <simdjson.h>
#include <cerrno>
#include <cstring>
#include <limits>
#include <memory>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "cyclegc_report/id_index.h"
#include "cyclegc_report/report.h"
#include "cyclegc_report/untrusted.h"
#include "json_stream.h"

namespace cyclegc::report {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

// A JSON path, built only when an error needs it: a million objects must not cost a million
// strings.
struct Where {
  const Where* parent = nullptr;
  const char* key = nullptr;  // ".key" after the parent, or "[index]" when null
  std::size_t index = 0;

  Where operator/(const char* k) const { return {this, k, 0}; }
  Where operator[](std::size_t i) const { return {this, nullptr, i}; }
  std::string str() const {
    if (parent == nullptr) return "$";
    return key ? absl::StrCat(parent->str(), ".", key)
               : absl::StrCat(parent->str(), "[", index, "]");
  }
};
const Where kRoot{};

struct ReadError {
  std::string message;
};
[[noreturn]] void fail(const Where& at, const std::string& what) {
  throw ReadError{absl::StrCat(at.str(), ": ", what)};
}

element field(element obj, const Where& at, const char* key) {
  if (obj.type() != element_type::OBJECT) fail(at, "expected an object");
  element v;
  if (obj.at_key(key).get(v) != simdjson::SUCCESS) fail(at / key, "missing");
  return v;
}
bool has_field(element obj, const char* key) {
  return obj.type() == element_type::OBJECT && obj.at_key(key).error() == simdjson::SUCCESS;
}

template <class T>
T as(element v, const Where& at) {
  if constexpr (std::is_same_v<T, std::string>) {
    std::string_view s;
    if (v.get_string().get(s) != simdjson::SUCCESS) fail(at, "expected a string");
    return std::string(s);
  } else if constexpr (std::is_same_v<T, bool>) {
    bool b = false;
    if (v.get_bool().get(b) != simdjson::SUCCESS) fail(at, "expected true or false");
    return b;
  } else if constexpr (std::is_floating_point_v<T>) {
    double d = 0;
    if (v.get_double().get(d) != simdjson::SUCCESS) fail(at, "expected a number");
    return d;
  } else {
    // An integer that fits T: JSON numbers can be far larger than any field here.
    using L = std::numeric_limits<T>;
    std::int64_t i = 0;
    std::uint64_t u = 0;
    if (v.type() == element_type::INT64 && v.get_int64().get(i) == simdjson::SUCCESS &&
        i >= static_cast<std::int64_t>(L::min()) &&
        (i < 0 || static_cast<std::uint64_t>(i) <= static_cast<std::uint64_t>(L::max()))) {
      return static_cast<T>(i);
    }
    if (v.type() == element_type::UINT64 && v.get_uint64().get(u) == simdjson::SUCCESS &&
        u <= static_cast<std::uint64_t>(L::max())) {
      return static_cast<T>(u);
    }
    fail(at, absl::StrCat("expected an integer in [", L::min(), ", ", L::max(), "]"));
  }
}
template <class T>
T read(element obj, const Where& at, const char* key) {
  return as<T>(field(obj, at, key), at / key);
}
template <class T, class F>
std::vector<T> read_array(element v, const Where& at, F each) {
  simdjson::dom::array a;
  if (v.get_array().get(a) != simdjson::SUCCESS) fail(at, "expected an array");
  std::vector<T> out;
  out.reserve(a.size());
  std::size_t i = 0;
  for (element e : a) out.push_back(each(e, at[i++]));
  return out;
}
template <class T, class F>
std::vector<T> read_array(element obj, const Where& at, const char* key, F each) {
  return read_array<T>(field(obj, at, key), at / key, each);
}

int read_id(element v, const Where& at) {
  std::int64_t id = -1;
  if (v.type() != element_type::INT64 || v.get_int64().get(id) != simdjson::SUCCESS || id < 0 ||
      id > std::numeric_limits<int>::max()) {
    fail(at, "expected an object id");
  }
  return static_cast<int>(id);
}
Edge read_edge(element v, const Where& at) {
  return {read<int>(v, at, "from"), read<int>(v, at, "to"), read<std::string>(v, at, "label")};
}
Frame read_frame(element f, const Where& at) {
  return {read<std::string>(f, at, "function"), read<std::string>(f, at, "file"),
          read<int>(f, at, "line")};
}

// One element of each top-level array, as a struct.
Collection read_collection(element v, const Where& at) {
  return {read<std::string>(v, at, "trigger"), read<int>(v, at, "generation"),
          read<std::uint64_t>(v, at, "collected"), read<std::uint64_t>(v, at, "uncollectable"),
          read<double>(v, at, "elapsed_s"),
          // Added within version 1: a report written before has none.
          has_field(v, "unreadable") ? read<std::uint64_t>(v, at, "unreadable") : 0};
}
Object read_object(element v, const Where& at) {
  return {read<int>(v, at, "id"),
          read<std::string>(v, at, "type"),
          read<std::string>(v, at, "address"),
          read<std::uint64_t>(v, at, "size"),
          read<std::string>(v, at, "label"),
          read<int>(v, at, "generation"),
          read<int>(v, at, "stack"),
          read<std::uint32_t>(v, at, "refcount"),
          read<std::uint32_t>(v, at, "untraced_refs"),
          read<bool>(v, at, "suppressed")};
}
Stack read_stack(element v, const Where& at) {
  return {read<int>(v, at, "id"), read_array<Frame>(v, at, "frames", read_frame)};
}
Cycle read_cycle(element v, const Where& at) {
  return {read<int>(v, at, "id"),
          read_array<int>(v, at, "members", read_id),
          {},
          read_edge(field(v, at, "closing_edge"), at / "closing_edge"),
          read<std::string>(v, at, "shape")};
}
Chain read_chain(element v, const Where& at) {
  return {read<int>(v, at, "object"), read<std::string>(v, at, "kind"), -1,
          read_array<Edge>(v, at, "hops", read_edge)};
}
LiveGroup read_live(element v, const Where& at) {
  return {read<std::string>(v, at, "type"), read<int>(v, at, "stack"),
          read<std::uint64_t>(v, at, "count"), read<std::uint64_t>(v, at, "bytes")};
}

StillReachableGroup read_still_reachable(element v, const Where& at) {
  return {read<std::string>(v, at, "kind"), read<std::string>(v, at, "holder"),
          read<std::uint64_t>(v, at, "count"), read<std::uint64_t>(v, at, "bytes")};
}

// Hands JSON text to simdjson, which wants SIMDJSON_PADDING readable bytes past the end.
class Parser {
 public:
  element parse(std::string_view text, std::uint64_t offset, bool as_array) {
    const std::size_t size = text.size() + (as_array ? 2 : 0);
    if (capacity_ < size + simdjson::SIMDJSON_PADDING) {
      capacity_ = std::max(2 * capacity_, size + simdjson::SIMDJSON_PADDING);
      buffer_ = std::make_unique<char[]>(capacity_);
    }
    char* out = buffer_.get();
    if (as_array) *out++ = '[';
    std::memcpy(out, text.data(), text.size());
    if (as_array) out[text.size()] = ']';
    std::memset(buffer_.get() + size, 0, simdjson::SIMDJSON_PADDING);
    element e;
    if (auto error = parser_.parse(buffer_.get(), size, false).get(e); error) {
      throw JsonSyntaxError{offset, absl::StrCat("in the ", text.size(), " bytes from here: ",
                                                 simdjson::error_message(error))};
    }
    return e;
  }

 private:
  simdjson::dom::parser parser_;
  std::unique_ptr<char[]> buffer_;
  std::size_t capacity_ = 0;
};

// Elements of an array, read a batch of about kBatch bytes at a time.
constexpr std::size_t kBatch = 1 << 20;

template <class T, class F>
void read_elements(JsonStream& in, Parser& parser, const Where& at, std::vector<T>& out, F each) {
  in.expect('[');
  if (in.consume_if(']')) return;
  for (bool more = true; more;) {
    in.release();
    const std::size_t start = in.mark();
    do {
      in.value();
      more = !in.consume_if(']');
      if (more) in.expect(',');
    } while (more && in.offset() - in.offset_of(start) < kBatch);
    const element batch = parser.parse(in.text_since(start), in.offset_of(start), true);
    for (element e : simdjson::dom::array(batch)) out.push_back(each(e, at[out.size()]));
  }
}

// Every id, stack and cycle a report refers to must exist: the tools index by them.
void check_references(const Report& r, const IdIndex& ids) {
  const Where objects = kRoot / "objects";
  if (const std::ptrdiff_t d = ids.first_duplicate(); d >= 0) {
    fail(objects[d] / "id", absl::StrCat("duplicate id ", r.objects[d].id));
  }
  for (std::size_t i = 0; i < r.objects.size(); ++i) {
    const Object& o = r.objects[i];
    if (o.stack < -1 || o.stack >= static_cast<int>(r.stacks.size())) {
      fail(objects[i] / "stack", absl::StrCat("no stack ", o.stack));
    }
    if (o.generation < -1 || o.generation > 2) {
      fail(objects[i] / "generation", "expected -1, 0, 1 or 2");
    }
  }
  auto object = [&](int id, const Where& at) {
    if (ids.find(id) < 0) fail(at, absl::StrCat("no object ", id));
  };
  auto edge = [&](const Edge& e, const Where& at) {
    object(e.from, at / "from");
    object(e.to, at / "to");
  };
  const Where edges = kRoot / "edges";
  for (std::size_t i = 0; i < r.edges.size(); ++i) edge(r.edges[i], edges[i]);
  const std::pair<const char*, const std::vector<int>*> lists[] = {
      {"collectable", &r.collectable},
      {"uncollectable", &r.uncollectable},
      {"saved_garbage", &r.saved_garbage},
      {"untraced", &r.untraced},
      {"held_by_leaks", &r.held_by_leaks}};
  for (const auto& [name, list] : lists) {
    const Where at = kRoot / name;
    for (std::size_t i = 0; i < list->size(); ++i) object((*list)[i], at[i]);
  }
  std::vector<bool> in_a_cycle(ids.size());
  const Where cycles = kRoot / "cycles";
  for (std::size_t i = 0; i < r.cycles.size(); ++i) {
    const Cycle& c = r.cycles[i];
    if (c.id != static_cast<int>(i)) fail(cycles[i] / "id", absl::StrCat("expected ", i));
    const Where cycle = cycles[i];  // a Where points at its parent: keep each one alive
    const Where members = cycle / "members";
    if (c.members.empty()) fail(members, "empty");
    for (std::size_t j = 0; j < c.members.size(); ++j) {
      object(c.members[j], members[j]);
      if (in_a_cycle[ids.find(c.members[j])]) {
        fail(members[j], absl::StrCat("object ", c.members[j], " is already in another cycle"));
      }
      in_a_cycle[ids.find(c.members[j])] = true;
    }
    edge(c.closing_edge, cycle / "closing_edge");
  }
  const Where chains = kRoot / "chains";
  for (std::size_t i = 0; i < r.chains.size(); ++i) {
    const Where chain = chains[i];
    object(r.chains[i].object, chain / "object");
    const Where hops = chain / "hops";
    for (std::size_t j = 0; j < r.chains[i].hops.size(); ++j) edge(r.chains[i].hops[j], hops[j]);
  }
  const Where live = kRoot / "live";
  for (std::size_t i = 0; i < r.live.size(); ++i) {
    if (r.live[i].stack < -1 || r.live[i].stack >= static_cast<int>(r.stacks.size())) {
      fail(live[i] / "stack", absl::StrCat("no stack ", r.live[i].stack));
    }
  }
}

// What the writer leaves out: each cycle's edges, and each member's chain (its cycle).
void rebuild_cycle_details(Report& r, const IdIndex& ids) {
  std::vector<int> cycle_of(ids.size(), -1);  // by position, so an id of INT_MAX costs nothing
  // Every id was checked against the objects (check_references); a miss would be a bug, and
  // counts as no cycle rather than an index of -1.
  auto at = [&](int id) -> int* {
    const int i = ids.find(id);
    return i < 0 ? nullptr : &cycle_of[static_cast<std::size_t>(i)];
  };
  for (const Cycle& c : r.cycles) {
    for (int m : c.members) {
      if (int* slot = at(m)) *slot = c.id;
    }
  }
  auto member_cycle = [&](int id) {
    const int* slot = at(id);
    return slot ? *slot : -1;
  };
  for (const Edge& e : r.edges) {
    const int c = member_cycle(e.from);
    if (c >= 0 && c == member_cycle(e.to)) r.cycles[c].edges.push_back(e);
  }
  for (const Cycle& c : r.cycles) {
    for (int m : c.members) r.chains.push_back({m, "cycle", c.id, {}});
  }
}

// The top-level object, member by member, in any order.
Report read_report(JsonStream& in) {
  const int first = in.peek();
  if (first < 0) throw JsonSyntaxError{0, "the input is empty"};
  if (first != '{') {
    if (first == '[' || first == '"' || first == '-' || (first >= '0' && first <= '9') ||
        first == 't' || first == 'f' || first == 'n') {
      fail(kRoot, "expected an object");
    }
    in.expect('{');  // throws, naming the byte
  }
  in.expect('{');
  Parser parser;
  Report r;
  absl::flat_hash_set<std::string> seen;
  std::optional<std::string> schema;
  std::optional<int> version;
  bool more = !in.consume_if('}');
  while (more) {
    in.release();
    const std::uint64_t key_at = in.offset();
    const std::string_view quoted = in.value();
    if (quoted.size() < 2 || quoted.front() != '"') {
      throw JsonSyntaxError{key_at, "expected a member name"};
    }
    const std::string key(quoted.substr(1, quoted.size() - 2));
    if (!seen.insert(key).second) {
      throw JsonSyntaxError{key_at, absl::StrCat("the member '", printable(key), "' is repeated")};
    }
    in.expect(':');
    const Where here = kRoot / key.c_str();
    auto one_value = [&] {
      const std::uint64_t at = in.offset_of(in.mark());  // before value() moves past it
      return parser.parse(in.value(), at, false);
    };
    if (key == "schema") {
      schema = as<std::string>(one_value(), here);
      if (*schema != kSchemaName) fail(here, "not a cyclegc report");
    } else if (key == "version") {
      version = as<int>(one_value(), here);
      if (*version < kOldestSchemaVersion || *version > kSchemaVersion) {
        fail(here, absl::StrCat("this tool reads versions ", kOldestSchemaVersion, " to ",
                                kSchemaVersion, ", the report is version ", *version));
      }
    } else if (key == "process") {
      const element p = one_value();
      r.process = {read<int>(p, here, "pid"),
                   read<std::string>(p, here, "executable"),
                   read<std::string>(p, here, "options"),
                   read<std::string>(p, here, "stack_method"),
                   read<std::string>(p, here, "reason"),
                   read<std::string>(p, here, "time"),
                   has_field(p, "heap") ? read<std::string>(p, here, "heap") : ""};
    } else if (key == "collections") {
      read_elements(in, parser, here, r.collections, read_collection);
    } else if (key == "objects") {
      read_elements(in, parser, here, r.objects, read_object);
    } else if (key == "stacks") {
      read_elements(in, parser, here, r.stacks, read_stack);
    } else if (key == "edges") {
      read_elements(in, parser, here, r.edges, read_edge);
    } else if (key == "collectable") {
      read_elements(in, parser, here, r.collectable, read_id);
    } else if (key == "uncollectable") {
      read_elements(in, parser, here, r.uncollectable, read_id);
    } else if (key == "saved_garbage") {
      read_elements(in, parser, here, r.saved_garbage, read_id);
    } else if (key == "untraced") {
      read_elements(in, parser, here, r.untraced, read_id);
    } else if (key == "cycles") {
      read_elements(in, parser, here, r.cycles, read_cycle);
    } else if (key == "chains") {
      read_elements(in, parser, here, r.chains, read_chain);
    } else if (key == "live") {
      read_elements(in, parser, here, r.live, read_live);
    } else if (key == "held_by_leaks") {  // optional: reports before it lack it
      read_elements(in, parser, here, r.held_by_leaks, read_id);
    } else if (key == "still_reachable") {  // optional, as held_by_leaks
      read_elements(in, parser, here, r.still_reachable, read_still_reachable);
    } else {
      one_value();  // a member this version does not know: checked as JSON, then skipped
    }
    more = in.consume_if(',');
    if (!more) in.expect('}');
  }
  if (in.peek() >= 0) throw JsonSyntaxError{in.offset(), "more text after the report"};
  if (!schema) fail(kRoot / "schema", "missing");
  if (!version) fail(kRoot / "version", "missing");
  for (const char* required :
       {"process", "collections", "objects", "stacks", "edges", "collectable", "uncollectable",
        "saved_garbage", "untraced", "cycles", "chains", "live"}) {
    if (!seen.contains(required)) fail(kRoot / required, "missing");
  }
  const IdIndex ids(r.objects);
  check_references(r, ids);
  rebuild_cycle_details(r, ids);
  return r;
}

absl::StatusOr<Report> read_from(JsonStream::Source source) {
  try {
    JsonStream in(std::move(source));
    return read_report(in);
  } catch (const JsonSyntaxError& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("not valid JSON at byte ", e.offset, ": ", e.message));
  } catch (const ReadError& e) {
    return absl::InvalidArgumentError(e.message);
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("the report needs more memory than there is");
  }
}

}  // namespace

absl::StatusOr<Report> from_json(std::string_view text) {
  return read_from([text](char* buffer, std::size_t size) mutable {
    const std::size_t n = std::min(size, text.size());
    std::memcpy(buffer, text.data(), n);
    text.remove_prefix(n);
    return n;
  });
}

absl::StatusOr<Report> read_report_file(const std::string& path) {
  absl::StatusOr<int> fd = open_regular_file(path);
  if (!fd.ok()) return fd.status();
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{*fd};
  std::string read_error;
  auto report = read_from([&](char* buffer, std::size_t size) -> std::size_t {
    for (;;) {
      const ssize_t n = ::read(*fd, buffer, size);
      if (n >= 0) return static_cast<std::size_t>(n);
      if (errno == EINTR) continue;
      read_error = std::strerror(errno);
      return 0;
    }
  });
  if (!read_error.empty()) {
    return absl::UnavailableError(
        absl::StrCat("cannot read '", printable(path), "': ", read_error));
  }
  return report;
}

}  // namespace cyclegc::report
