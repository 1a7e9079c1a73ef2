// JSON for the report, with nlohmann::json. Writing is direct; reading checks each field's
// presence and type by hand so an error can name the JSON path where it is wrong.
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cyclegc_report/report.h"

namespace cyclegc::report {
namespace {

using nlohmann::json;

json frame_json(const Frame& f) {
  return {{"function", f.function}, {"file", f.file}, {"line", f.line}};
}
json edge_json(const Edge& e) { return {{"from", e.from}, {"to", e.to}, {"label", e.label}}; }
template <class T, class F>
json array_of(const std::vector<T>& items, F to) {
  json a = json::array();
  for (const auto& item : items) a.push_back(to(item));
  return a;
}

// Reading: every accessor takes the path of the value it reads, and throws ReadError on a
// missing or mistyped field; from_json() turns that into a Status.
struct ReadError {
  std::string message;
};

const json& field(const json& obj, const std::string& path, const char* key) {
  if (!obj.is_object()) throw ReadError{absl::StrCat(path, ": expected an object")};
  auto it = obj.find(key);
  if (it == obj.end()) throw ReadError{absl::StrCat(path, ".", key, ": missing")};
  return *it;
}
template <class T>
T read(const json& obj, const std::string& path, const char* key) {
  const json& v = field(obj, path, key);
  if constexpr (std::is_same_v<T, std::string>) {
    if (!v.is_string()) throw ReadError{absl::StrCat(path, ".", key, ": expected a string")};
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_boolean()) throw ReadError{absl::StrCat(path, ".", key, ": expected true or false")};
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!v.is_number()) throw ReadError{absl::StrCat(path, ".", key, ": expected a number")};
  } else {
    // An integer that fits T: JSON numbers can be far larger than any field here.
    const bool fits =
        v.is_number_unsigned()
            ? v.get<std::uint64_t>() <= static_cast<std::uint64_t>(std::numeric_limits<T>::max())
            : v.is_number_integer() &&
                  v.get<std::int64_t>() >=
                      static_cast<std::int64_t>(std::numeric_limits<T>::min()) &&
                  (v.get<std::int64_t>() < 0 ||
                   static_cast<std::uint64_t>(v.get<std::int64_t>()) <=
                       static_cast<std::uint64_t>(std::numeric_limits<T>::max()));
    if (!fits) {
      throw ReadError{absl::StrCat(path, ".", key, ": expected an integer in [",
                                   std::numeric_limits<T>::min(), ", ",
                                   std::numeric_limits<T>::max(), "]")};
    }
  }
  return v.get<T>();
}
template <class T, class F>
std::vector<T> read_array(const json& obj, const std::string& path, const char* key, F element) {
  const json& v = field(obj, path, key);
  const std::string here = absl::StrCat(path, ".", key);
  if (!v.is_array()) throw ReadError{absl::StrCat(here, ": expected an array")};
  std::vector<T> out;
  out.reserve(v.size());
  for (std::size_t i = 0; i < v.size(); ++i)
    out.push_back(element(v[i], absl::StrCat(here, "[", i, "]")));
  return out;
}
int read_id(const json& v, const std::string& path) {
  if (!v.is_number_integer() || v.get<std::int64_t>() < 0 ||
      v.get<std::int64_t>() > std::numeric_limits<int>::max()) {
    throw ReadError{absl::StrCat(path, ": expected an object id")};
  }
  return v.get<int>();
}
Edge read_edge(const json& v, const std::string& path) {
  return {read<int>(v, path, "from"), read<int>(v, path, "to"),
          read<std::string>(v, path, "label")};
}

// Every id, stack and cycle a report refers to must exist: the tools index by them.
void check_references(const Report& r) {
  std::set<int> ids;
  for (std::size_t i = 0; i < r.objects.size(); ++i) {
    const Object& o = r.objects[i];
    const std::string at = absl::StrCat("$.objects[", i, "]");
    if (!ids.insert(o.id).second) throw ReadError{absl::StrCat(at, ".id: duplicate id ", o.id)};
    if (o.stack < -1 || o.stack >= static_cast<int>(r.stacks.size())) {
      throw ReadError{absl::StrCat(at, ".stack: no stack ", o.stack)};
    }
    if (o.generation < -1 || o.generation > 2) {
      throw ReadError{absl::StrCat(at, ".generation: expected -1, 0, 1 or 2")};
    }
  }
  auto object = [&](int id, const std::string& at) {
    if (!ids.count(id)) throw ReadError{absl::StrCat(at, ": no object ", id)};
  };
  auto edge = [&](const Edge& e, const std::string& at) {
    object(e.from, at + ".from");
    object(e.to, at + ".to");
  };
  for (std::size_t i = 0; i < r.edges.size(); ++i)
    edge(r.edges[i], absl::StrCat("$.edges[", i, "]"));
  const std::pair<const char*, const std::vector<int>*> lists[] = {
      {"collectable", &r.collectable},
      {"uncollectable", &r.uncollectable},
      {"saved_garbage", &r.saved_garbage},
      {"untraced", &r.untraced}};
  for (const auto& [name, list] : lists) {
    for (std::size_t i = 0; i < list->size(); ++i) {
      object((*list)[i], absl::StrCat("$.", name, "[", i, "]"));
    }
  }
  std::set<int> in_a_cycle;
  for (std::size_t i = 0; i < r.cycles.size(); ++i) {
    const Cycle& c = r.cycles[i];
    const std::string at = absl::StrCat("$.cycles[", i, "]");
    if (c.id != static_cast<int>(i)) throw ReadError{absl::StrCat(at, ".id: expected ", i)};
    if (c.members.empty()) throw ReadError{absl::StrCat(at, ".members: empty")};
    for (std::size_t j = 0; j < c.members.size(); ++j) {
      object(c.members[j], absl::StrCat(at, ".members[", j, "]"));
      if (!in_a_cycle.insert(c.members[j]).second) {
        throw ReadError{absl::StrCat(at, ".members[", j, "]: object ", c.members[j],
                                     " is already in another cycle")};
      }
    }
    edge(c.closing_edge, at + ".closing_edge");
  }
  for (std::size_t i = 0; i < r.chains.size(); ++i) {
    const std::string at = absl::StrCat("$.chains[", i, "]");
    object(r.chains[i].object, at + ".object");
    for (std::size_t j = 0; j < r.chains[i].hops.size(); ++j) {
      edge(r.chains[i].hops[j], absl::StrCat(at, ".hops[", j, "]"));
    }
  }
  for (std::size_t i = 0; i < r.live.size(); ++i) {
    if (r.live[i].stack < -1 || r.live[i].stack >= static_cast<int>(r.stacks.size())) {
      throw ReadError{absl::StrCat("$.live[", i, "].stack: no stack ", r.live[i].stack)};
    }
  }
}

// What to_json() leaves out: each cycle's edges, and each member's chain (its cycle).
void rebuild_cycle_details(Report& r) {
  // By id in a hash map, not a vector indexed by id: ids are untrusted, and an id of INT_MAX
  // must cost no more than any other.
  absl::flat_hash_map<int, int> cycle_of;
  for (const Cycle& c : r.cycles) {
    for (int m : c.members) {
      if (m < 0) throw ReadError{absl::StrCat("$.cycles[", c.id, "].members: negative id")};
      cycle_of[m] = c.id;
    }
  }
  auto member_cycle = [&](int id) {
    auto it = cycle_of.find(id);
    return it == cycle_of.end() ? -1 : it->second;
  };
  for (std::size_t i = 0; i < r.cycles.size(); ++i) {
    if (r.cycles[i].id != static_cast<int>(i)) {
      throw ReadError{absl::StrCat("$.cycles[", i, "].id: expected ", i)};
    }
  }
  for (const Edge& e : r.edges) {
    const int c = member_cycle(e.from);
    if (c >= 0 && c == member_cycle(e.to)) r.cycles[c].edges.push_back(e);
  }
  for (const Cycle& c : r.cycles) {
    for (int m : c.members) r.chains.push_back({m, "cycle", c.id, {}});
  }
}

}  // namespace

std::string site_text(const Frame& f) {
  std::string function = f.function;
  if (absl::EndsWith(function, " const")) function.resize(function.size() - 6);
  if (!function.empty() && function.back() == ')') {  // cut the parameter list at its '('
    int depth = 0;
    for (std::size_t i = function.size(); i-- > 0;) {
      if (function[i] == ')') ++depth;
      if (function[i] == '(' && --depth == 0) {
        function.resize(i);
        break;
      }
    }
  }
  const std::string file = f.file.substr(f.file.rfind('/') + 1);
  return absl::StrCat(function.empty() ? "??" : function,
                      file.empty() ? "" : absl::StrCat(" (", file, ":", f.line, ")"));
}

std::string to_json(const Report& r) {
  json j;
  j["schema"] = kSchemaName;
  j["version"] = kSchemaVersion;
  j["process"] = {{"pid", r.process.pid},         {"executable", r.process.executable},
                  {"options", r.process.options}, {"stack_method", r.process.stack_method},
                  {"reason", r.process.reason},   {"time", r.process.time}};
  j["collections"] = array_of(r.collections, [](const Collection& c) {
    return json{{"trigger", c.trigger},     {"generation", c.generation},
                {"collected", c.collected}, {"uncollectable", c.uncollectable},
                {"elapsed_s", c.elapsed_s}, {"unreadable", c.unreadable}};
  });
  j["objects"] = array_of(r.objects, [](const Object& o) {
    return json{{"id", o.id},
                {"type", o.type},
                {"address", o.address},
                {"size", o.size},
                {"label", o.label},
                {"generation", o.generation},
                {"stack", o.stack},
                {"refcount", o.refcount},
                {"untraced_refs", o.untraced_refs},
                {"suppressed", o.suppressed}};
  });
  j["stacks"] = array_of(r.stacks, [](const Stack& s) {
    return json{{"id", s.id}, {"frames", array_of(s.frames, frame_json)}};
  });
  j["edges"] = array_of(r.edges, edge_json);
  j["collectable"] = r.collectable;
  j["uncollectable"] = r.uncollectable;
  j["saved_garbage"] = r.saved_garbage;
  j["untraced"] = r.untraced;
  // A cycle's edges and its members' chains follow from `edges` and `members`: they are not
  // written (they would repeat the graph once per cycle member) and from_json() rebuilds them.
  j["cycles"] = array_of(r.cycles, [](const Cycle& c) {
    return json{{"id", c.id},
                {"members", c.members},
                {"closing_edge", edge_json(c.closing_edge)},
                {"shape", c.shape}};
  });
  json chains = json::array();
  for (const Chain& c : r.chains) {
    if (c.cycle >= 0) continue;
    chains.push_back(
        json{{"object", c.object}, {"kind", c.kind}, {"hops", array_of(c.hops, edge_json)}});
  }
  j["chains"] = std::move(chains);
  j["live"] = array_of(r.live, [](const LiveGroup& g) {
    return json{{"type", g.type}, {"stack", g.stack}, {"count", g.count}, {"bytes", g.bytes}};
  });
  return j.dump();
}

absl::StatusOr<Report> from_json(const std::string& text) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("not valid JSON at byte ", e.byte, ": ", e.what()));
  } catch (const json::exception& e) {  // a number beyond a double, and the like (fuzzing)
    return absl::InvalidArgumentError(absl::StrCat("not a readable JSON document: ", e.what()));
  }
  try {
    const std::string root = "$";
    if (read<std::string>(j, root, "schema") != kSchemaName) {
      return absl::InvalidArgumentError("$.schema: not a cyclegc report");
    }
    const int version = read<int>(j, root, "version");
    if (version != kSchemaVersion) {
      return absl::InvalidArgumentError(absl::StrCat("$.version: this tool reads version ",
                                                     kSchemaVersion, ", the report is version ",
                                                     version));
    }
    Report r;
    const json& p = field(j, root, "process");
    r.process = {read<int>(p, "$.process", "pid"),
                 read<std::string>(p, "$.process", "executable"),
                 read<std::string>(p, "$.process", "options"),
                 read<std::string>(p, "$.process", "stack_method"),
                 read<std::string>(p, "$.process", "reason"),
                 read<std::string>(p, "$.process", "time")};
    r.collections =
        read_array<Collection>(j, root, "collections", [](const json& v, const std::string& at) {
          return Collection{
              read<std::string>(v, at, "trigger"), read<int>(v, at, "generation"),
              read<std::uint64_t>(v, at, "collected"), read<std::uint64_t>(v, at, "uncollectable"),
              read<double>(v, at, "elapsed_s"),
              // Added within version 1: a report written before has none.
              v.is_object() && v.contains("unreadable") ? read<std::uint64_t>(v, at, "unreadable")
                                                        : 0};
        });
    r.objects = read_array<Object>(j, root, "objects", [](const json& v, const std::string& at) {
      return Object{read<int>(v, at, "id"),
                    read<std::string>(v, at, "type"),
                    read<std::string>(v, at, "address"),
                    read<std::uint64_t>(v, at, "size"),
                    read<std::string>(v, at, "label"),
                    read<int>(v, at, "generation"),
                    read<int>(v, at, "stack"),
                    read<std::uint32_t>(v, at, "refcount"),
                    read<std::uint32_t>(v, at, "untraced_refs"),
                    read<bool>(v, at, "suppressed")};
    });
    r.stacks = read_array<Stack>(j, root, "stacks", [](const json& v, const std::string& at) {
      return Stack{read<int>(v, at, "id"),
                   read_array<Frame>(v, at, "frames", [](const json& f, const std::string& fat) {
                     return Frame{read<std::string>(f, fat, "function"),
                                  read<std::string>(f, fat, "file"), read<int>(f, fat, "line")};
                   })};
    });
    r.edges = read_array<Edge>(j, root, "edges", read_edge);
    r.collectable = read_array<int>(j, root, "collectable", read_id);
    r.uncollectable = read_array<int>(j, root, "uncollectable", read_id);
    r.saved_garbage = read_array<int>(j, root, "saved_garbage", read_id);
    r.untraced = read_array<int>(j, root, "untraced", read_id);
    r.cycles = read_array<Cycle>(j, root, "cycles", [](const json& v, const std::string& at) {
      return Cycle{read<int>(v, at, "id"),
                   read_array<int>(v, at, "members", read_id),
                   {},
                   read_edge(field(v, at, "closing_edge"), at + ".closing_edge"),
                   read<std::string>(v, at, "shape")};
    });
    r.chains = read_array<Chain>(j, root, "chains", [](const json& v, const std::string& at) {
      return Chain{read<int>(v, at, "object"), read<std::string>(v, at, "kind"), -1,
                   read_array<Edge>(v, at, "hops", read_edge)};
    });
    r.live = read_array<LiveGroup>(j, root, "live", [](const json& v, const std::string& at) {
      return LiveGroup{read<std::string>(v, at, "type"), read<int>(v, at, "stack"),
                       read<std::uint64_t>(v, at, "count"), read<std::uint64_t>(v, at, "bytes")};
    });
    check_references(r);
    rebuild_cycle_details(r);
    return r;
  } catch (const ReadError& e) {
    return absl::InvalidArgumentError(e.message);
  } catch (const json::exception& e) {  // out-of-range numbers and the like
    return absl::InvalidArgumentError(e.what());
  }
}

}  // namespace cyclegc::report
