#include "json_stream.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace cyclegc::report {
namespace {

// Pieces start small, for the many small reports, and double up to a megabyte.
constexpr std::size_t kFirstPiece = 16 << 10, kPiece = 1 << 20;

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

std::string describe(int c) {
  if (c < 0) return "the end of the input";
  if (c >= 0x20 && c < 0x7f) return absl::StrCat("'", std::string(1, static_cast<char>(c)), "'");
  return absl::StrFormat("byte 0x%02x", c);
}

}  // namespace

void JsonStream::fail(std::uint64_t at, const std::string& what) const {
  throw JsonSyntaxError{at, what};
}

bool JsonStream::fill() {
  if (at_end_) return false;
  const std::size_t old = buf_.size();
  piece_ = piece_ == 0 ? kFirstPiece : std::min(2 * piece_, kPiece);
  buf_.resize(old + piece_);
  const std::size_t n = source_(buf_.data() + old, piece_);
  buf_.resize(old + n);
  if (n == 0) at_end_ = true;
  return n > 0;
}

int JsonStream::peek() {
  for (;;) {
    while (pos_ < buf_.size() && is_space(buf_[pos_])) ++pos_;
    if (pos_ < buf_.size()) return static_cast<unsigned char>(buf_[pos_]);
    if (!fill()) return -1;
  }
}

void JsonStream::expect(char c) {
  const int next = peek();
  if (next != static_cast<unsigned char>(c)) {
    fail(offset(), absl::StrCat("expected '", std::string(1, c), "', found ", describe(next)));
  }
  ++pos_;
}

bool JsonStream::consume_if(char c) {
  if (peek() != static_cast<unsigned char>(c)) return false;
  ++pos_;
  return true;
}

std::size_t JsonStream::mark() {
  peek();
  return pos_;
}

std::string_view JsonStream::text_since(std::size_t mark) const {
  return std::string_view(buf_).substr(mark, value_end_ - mark);
}

void JsonStream::release() {
  buf_.erase(0, pos_);
  base_ += pos_;
  value_end_ = value_end_ > pos_ ? value_end_ - pos_ : 0;
  pos_ = 0;
}

std::string_view JsonStream::value() {
  const int first = peek();
  if (first < 0) fail(offset(), "the input ends where a value should start");
  const std::size_t start = pos_;
  pos_ = end_of_value(pos_);
  value_end_ = pos_;
  return std::string_view(buf_).substr(start, pos_ - start);
}

std::size_t JsonStream::end_of_value(std::size_t i) {
  const char c = buf_[i];
  if (c == '"' || c == '{' || c == '[') return end_of_nested(i, false);
  if (c == '}' || c == ']' || c == ',' || c == ':') {
    fail(base_ + i, absl::StrCat("expected a value, found ", describe(c)));
  }
  // A number or a literal: it runs to the next delimiter; simdjson judges its spelling.
  for (;;) {
    for (; i < buf_.size(); ++i) {
      const char d = buf_[i];
      if (d == ',' || d == '}' || d == ']' || d == ':' || d == '"' || is_space(d)) return i;
    }
    if (!fill()) return i;
  }
}

// From an opening quote or bracket to just past what closes it. The state survives refills, so
// an escape or a quote split between two pieces is read as one.
std::size_t JsonStream::end_of_nested(std::size_t i, bool in_string) {
  std::size_t depth = 0;
  bool escaped = false;
  for (;;) {
    const char* p = buf_.data();
    const std::size_t n = buf_.size();
    for (; i < n; ++i) {
      if (in_string) {
        if (escaped) {
          escaped = false;
          continue;
        }
        // Most of a report is strings: memchr finds their ends many bytes at a time.
        const auto* quote = static_cast<const char*>(std::memchr(p + i, '"', n - i));
        const char* end = quote ? quote : p + n;
        if (const auto* bs = static_cast<const char*>(std::memchr(p + i, '\\', end - (p + i)))) {
          i = static_cast<std::size_t>(bs - p);
          escaped = true;
          continue;
        }
        i = static_cast<std::size_t>(end - p);
        if (!quote) break;
        in_string = false;
        if (depth == 0) return i + 1;
        continue;
      }
      const char c = p[i];
      switch (c) {
        case '"':
          in_string = true;
          break;
        case '{':
        case '[':
          ++depth;
          break;
        case '}':
        case ']':
          if (--depth == 0) return i + 1;
          break;
        default:
          break;
      }
    }
    if (!fill()) {
      fail(base_ + i, in_string ? "the input ends inside a string (is the report truncated?)"
                                : "the input ends inside an object or array (is the report "
                                  "truncated?)");
    }
  }
}

}  // namespace cyclegc::report
