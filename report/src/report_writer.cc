// Writing a report: straight to text, piece by piece, with no document tree in between — a
// report of a million objects would cost gigabytes as a tree, and the agent writes it inside the
// host's process. Strings come from the program (type names, repr() text) and may hold any
// bytes: what is not valid UTF-8 is written as U+FFFD, so every report is valid JSON.
#include <charconv>
#include <cstdint>

#include "cyclegc_report/report.h"

namespace cyclegc::report {
namespace {

// Buffers output and hands it to the sink in pieces of about kPiece bytes.
class Writer {
 public:
  explicit Writer(absl::FunctionRef<void(std::string_view)> sink) : sink_(sink) {
    buf_.reserve(kPiece + 4096);
  }
  ~Writer() {
    if (!buf_.empty()) sink_(buf_);
  }

  void raw(std::string_view s) {
    buf_.append(s);
    if (buf_.size() >= kPiece) flush();
  }
  void raw(char c) { buf_.push_back(c); }
  template <class Int>
  void number(Int v) {
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, v);
    raw(std::string_view(digits, static_cast<std::size_t>(end - digits)));
  }
  void number(double v) {
    char digits[32];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, v);
    std::string_view text(digits, static_cast<std::size_t>(end - digits));
    // JSON has no inf or nan; an elapsed time never is one, but a report must stay valid.
    raw(text.find_first_of("in") == std::string_view::npos ? text : std::string_view("0"));
  }
  void string(std::string_view s);
  // `"key":`, preceded by a comma unless it is the first of its object.
  void key(const char* k, bool first = false) {
    if (!first) raw(',');
    raw('"');
    raw(k);
    raw("\":");
  }

 private:
  static constexpr std::size_t kPiece = 1 << 20;
  void flush() {
    sink_(buf_);
    buf_.clear();
  }
  absl::FunctionRef<void(std::string_view)> sink_;
  std::string buf_;
};

// The length of the valid UTF-8 sequence at s[i], or 0 when there is none.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto at = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = at(i);
  std::size_t n;
  std::uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2, cp = c & 0x1Fu;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3, cp = c & 0x0Fu;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4, cp = c & 0x07u;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((at(i + k) & 0xC0u) != 0x80u) return 0;
    cp = (cp << 6) | (at(i + k) & 0x3Fu);
  }
  const bool overlong = (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000);
  const bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
  return overlong || surrogate || cp > 0x10FFFF ? 0 : n;
}

void Writer::string(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  raw('"');
  std::size_t plain = 0;  // start of the run of bytes copied as they are
  auto copy_run = [&](std::size_t end) { buf_.append(s.substr(plain, end - plain)); };
  for (std::size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      if (const std::size_t n = utf8_length(s, i); n > 0) {
        i += n;
        continue;
      }
    }
    copy_run(i);
    if (c == '"' || c == '\\') {
      buf_.push_back('\\');
      buf_.push_back(static_cast<char>(c));
    } else if (c >= 0x80) {
      buf_.append("\\ufffd");
    } else {
      buf_.append("\\u00");
      buf_.push_back(kHex[c >> 4]);
      buf_.push_back(kHex[c & 15]);
    }
    plain = ++i;
  }
  copy_run(s.size());
  raw("\"");  // the string_view overload: it flushes a full buffer
}

template <class T, class F>
void array(Writer& w, const std::vector<T>& items, F each) {
  w.raw('[');
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) w.raw(',');
    each(items[i]);
  }
  w.raw(']');
}

void ids(Writer& w, const std::vector<int>& list) {
  array(w, list, [&](int id) { w.number(id); });
}

void edge(Writer& w, const Edge& e) {
  w.raw('{'), w.key("from", true), w.number(e.from);
  w.key("to"), w.number(e.to);
  w.key("label"), w.string(e.label), w.raw('}');
}

}  // namespace

void to_json(const Report& r, absl::FunctionRef<void(std::string_view)> sink) {
  Writer w(sink);
  w.raw('{');
  w.key("schema", true), w.string(kSchemaName);
  w.key("version"), w.number(kSchemaVersion);
  const Process& p = r.process;
  w.key("process"), w.raw('{');
  w.key("pid", true), w.number(p.pid);
  w.key("executable"), w.string(p.executable);
  w.key("options"), w.string(p.options);
  w.key("stack_method"), w.string(p.stack_method);
  w.key("reason"), w.string(p.reason);
  w.key("time"), w.string(p.time);
  if (!p.heap.empty()) w.key("heap"), w.string(p.heap);
  w.raw('}');
  w.key("collections"), array(w, r.collections, [&](const Collection& c) {
    w.raw('{'), w.key("trigger", true), w.string(c.trigger);
    w.key("generation"), w.number(c.generation);
    w.key("collected"), w.number(c.collected);
    w.key("uncollectable"), w.number(c.uncollectable);
    w.key("elapsed_s"), w.number(c.elapsed_s);
    w.key("unreadable"), w.number(c.unreadable), w.raw('}');
  });
  w.key("objects"), array(w, r.objects, [&](const Object& o) {
    w.raw('{'), w.key("id", true), w.number(o.id);
    w.key("type"), w.string(o.type);
    w.key("address"), w.string(o.address);
    w.key("size"), w.number(o.size);
    w.key("label"), w.string(o.label);
    w.key("generation"), w.number(o.generation);
    w.key("stack"), w.number(o.stack);
    w.key("refcount"), w.number(o.refcount);
    w.key("untraced_refs"), w.number(o.untraced_refs);
    w.key("suppressed"), w.raw(o.suppressed ? "true" : "false"), w.raw('}');
  });
  w.key("stacks"), array(w, r.stacks, [&](const Stack& s) {
    w.raw('{'), w.key("id", true), w.number(s.id);
    w.key("frames"), array(w, s.frames, [&](const Frame& f) {
      w.raw('{'), w.key("function", true), w.string(f.function);
      w.key("file"), w.string(f.file);
      w.key("line"), w.number(f.line), w.raw('}');
    });
    w.raw('}');
  });
  w.key("edges"), array(w, r.edges, [&](const Edge& e) { edge(w, e); });
  w.key("collectable"), ids(w, r.collectable);
  w.key("uncollectable"), ids(w, r.uncollectable);
  w.key("saved_garbage"), ids(w, r.saved_garbage);
  w.key("untraced"), ids(w, r.untraced);
  w.key("held_by_leaks"), ids(w, r.held_by_leaks);
  // A cycle's edges and its members' chains follow from `edges` and `members`: they are not
  // written (they would repeat the graph once per cycle member) and the reader rebuilds them.
  w.key("cycles"), array(w, r.cycles, [&](const Cycle& c) {
    w.raw('{'), w.key("id", true), w.number(c.id);
    w.key("members"), ids(w, c.members);
    w.key("closing_edge"), edge(w, c.closing_edge);
    w.key("shape"), w.string(c.shape), w.raw('}');
  });
  w.key("chains"), w.raw('[');
  bool first = true;
  for (const Chain& c : r.chains) {
    if (c.cycle >= 0) continue;
    if (!first) w.raw(',');
    first = false;
    w.raw('{'), w.key("object", true), w.number(c.object);
    w.key("kind"), w.string(c.kind);
    w.key("hops"), array(w, c.hops, [&](const Edge& e) { edge(w, e); });
    w.raw('}');
  }
  w.raw(']');
  w.key("live"), array(w, r.live, [&](const LiveGroup& g) {
    w.raw('{'), w.key("type", true), w.string(g.type);
    w.key("stack"), w.number(g.stack);
    w.key("count"), w.number(g.count);
    w.key("bytes"), w.number(g.bytes), w.raw('}');
  });
  w.key("still_reachable"), array(w, r.still_reachable, [&](const StillReachableGroup& g) {
    w.raw('{'), w.key("kind", true), w.string(g.kind);
    w.key("holder"), w.string(g.holder);
    w.key("count"), w.number(g.count);
    w.key("bytes"), w.number(g.bytes), w.raw('}');
  });
  w.raw('}');
}

std::string to_json(const Report& r) {
  std::string out;
  to_json(r, [&](std::string_view piece) { out.append(piece); });
  return out;
}

}  // namespace cyclegc::report
