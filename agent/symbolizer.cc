#include "symbolizer.h"

#include <backtrace.h>
#include <cxxabi.h>

#include <algorithm>
#include <cstdlib>

namespace cyclegc::agent {
namespace {

// Missing debug information is the normal case for system libraries, not worth a word.
void ignore_error(void*, const char*, int) {}

backtrace_state* state() {
  // Created once and never freed (libbacktrace has no way to); threaded, because the agent's
  // worker and the program's exit may both symbolize.
  static backtrace_state* s =
      backtrace_create_state(nullptr, /*threaded=*/1, ignore_error, nullptr);
  return s;
}

std::string demangled(const char* name) {
  if (name == nullptr) return "";
  int status = 0;
  char* out = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  if (status != 0 || out == nullptr) return name;
  std::string result(out);
  std::free(out);
  return result;
}

struct Collected {
  std::uintptr_t pc;
  std::vector<Frame>* frames;
};

int on_pcinfo(void* data, std::uintptr_t, const char* file, int line, const char* function) {
  auto* c = static_cast<Collected*>(data);
  if (file == nullptr && function == nullptr) return 0;
  c->frames->push_back({c->pc, demangled(function), file ? file : "", line});
  return 0;
}

void on_syminfo(void* data, std::uintptr_t, const char* symbol, std::uintptr_t, std::uintptr_t) {
  auto* c = static_cast<Collected*>(data);
  if (symbol != nullptr) c->frames->back().function = demangled(symbol);
}

}  // namespace

std::vector<Frame> symbolize(std::uintptr_t return_address) {
  std::vector<Frame> frames;
  Collected c{return_address, &frames};
  // A return address points after the call; pc - 1 lies in the calling line.
  if (backtrace_state* s = state()) {
    backtrace_pcinfo(s, return_address - 1, on_pcinfo, ignore_error, &c);
    if (frames.empty()) frames.push_back({return_address, "", "", 0});
    // The containing function, last, by its symbol: the debug information names some functions
    // unqualified (a template in an anonymous namespace), the symbol table never does.
    backtrace_syminfo(s, return_address - 1, on_syminfo, ignore_error, &c);
  }
  if (frames.empty()) frames.push_back({return_address, "", "", 0});
  return frames;
}

std::string data_symbol(std::uintptr_t address) {
  std::string name;
  if (backtrace_state* s = state()) {
    backtrace_syminfo(
        s, address,
        [](void* data, std::uintptr_t pc, const char* symbol, std::uintptr_t start,
           std::uintptr_t size) {
          if (symbol != nullptr && pc >= start && pc < start + std::max<std::uintptr_t>(size, 1))
            *static_cast<std::string*>(data) = demangled(symbol);
        },
        ignore_error, &name);
  }
  return name;
}

}  // namespace cyclegc::agent
