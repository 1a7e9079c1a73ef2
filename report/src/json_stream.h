// One large JSON document read in bounded memory. The report reader walks the top-level object
// itself and hands each value — or a batch of consecutive array elements — to simdjson, so that
// what is held at once is one batch, never the file: a report of a million objects is hundreds
// of megabytes of text, and a parse tree of it many times that. The stream only finds where a
// value ends (strings, escapes and nesting); simdjson then checks every byte of it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace cyclegc::report {

// Thrown for bytes that cannot begin or end a JSON value where they stand, with their offset.
struct JsonSyntaxError {
  std::uint64_t offset;
  std::string message;
};

class JsonStream {
 public:
  // Fills `buffer` with up to `size` bytes and returns how many; 0 at the end of the input.
  using Source = std::function<std::size_t(char* buffer, std::size_t size)>;
  explicit JsonStream(Source source) : source_(std::move(source)) {}

  // The next byte after whitespace, not consumed; -1 at the end of the input.
  int peek();
  // Consumes `c` after whitespace, or throws naming what was found instead.
  void expect(char c);
  bool consume_if(char c);
  // Consumes one value and returns its text, valid until the next call of any member.
  std::string_view value();
  // Where the next value starts (after whitespace), and the text from there to the end of the
  // last value consumed: for reading consecutive array elements as one batch.
  std::size_t mark();
  std::string_view text_since(std::size_t mark) const;
  // Forgets the bytes consumed so far; marks taken before are no longer valid.
  void release();
  std::uint64_t offset() const { return base_ + pos_; }
  std::uint64_t offset_of(std::size_t mark) const { return base_ + mark; }

 private:
  [[noreturn]] void fail(std::uint64_t at, const std::string& what) const;
  bool fill();  // appends the next piece of input; false at its end
  std::size_t end_of_value(std::size_t i);
  std::size_t end_of_nested(std::size_t i, bool in_string);

  Source source_;
  std::string buf_;
  std::size_t pos_ = 0;        // next unread byte of buf_
  std::size_t value_end_ = 0;  // end of the last value consumed
  std::uint64_t base_ = 0;     // offset in the input of buf_[0]
  std::size_t piece_ = 0;      // the size of the last read asked of the source
  bool at_end_ = false;
};

}  // namespace cyclegc::report
