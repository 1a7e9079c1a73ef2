// Program counters to source frames, with GCC's libbacktrace: every inlined call at a pc as a
// frame of its own, innermost first, then the function that contains them — as gdb and
// LeakSanitizer show them. (Boost.Stacktrace, which wraps the same library, keeps one frame per
// pc and loses the inlined helper that called make<>.)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cyclegc::agent {

struct Frame {
  std::uintptr_t pc = 0;
  std::string function;  // demangled, or "" when unknown
  std::string file;      // "" when unknown
  int line = 0;
};

// The frames at `return_address`, innermost first; never empty. Without debug information the
// one frame is named from the symbol table, or not at all. Not thread-safe: the caller serializes.
std::vector<Frame> symbolize(std::uintptr_t return_address);

// The demangled name of the global or static variable whose storage contains `address`, from
// the symbol table (which names statics the dynamic symbol table leaves out), or "".
std::string data_symbol(std::uintptr_t address);

}  // namespace cyclegc::agent
