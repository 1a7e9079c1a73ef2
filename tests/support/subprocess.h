// Running a program from a test: its exit status and its stdout and stderr together; and a
// scratch directory for what it writes.
#pragma once

#include <sys/wait.h>

#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <string>

namespace cyclegc::testing {

struct ProgramRun {
  int status;          // the exit status, or -1 when it did not exit normally
  std::string output;  // stdout and stderr, interleaved
};

inline ProgramRun run_shell(const std::string& command) {
  ProgramRun r{-1, ""};
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return r;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) r.output.append(buf, n);
  const int status = pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// A fresh directory under /tmp for one test, removed with everything in it afterwards.
class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/cyclegc-test-XXXXXX";
    path_ = mkdtemp(pattern);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace cyclegc::testing
