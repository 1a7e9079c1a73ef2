// The peak resident set of this process image, in MB. Not getrusage's ru_maxrss: Linux keeps
// that high-water mark across execve, so a benchmark started by a larger process (the Python
// script that runs them) would report its parent's peak. VmHWM belongs to the current image.
#pragma once

#include <fstream>
#include <string>

inline double peak_rss_mb() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;  // in kB
  }
  return 0;
}
