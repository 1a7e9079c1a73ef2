#include "memory_map.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

namespace cyclegc::detail {

std::optional<MemoryMap> MemoryMap::read_self() {
  // read(2), not a FILE*: no buffer of the C library's, and the descriptor lives for this call.
  const int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string text;
  std::vector<char> buf(1 << 16);  // not on the stack: any thread may scan, however small its stack
  for (ssize_t n; (n = read(fd, buf.data(), buf.size())) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      close(fd);
      return std::nullopt;
    }
    text.append(buf.data(), static_cast<std::size_t>(n));
  }
  close(fd);

  MemoryMap map;
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(at, end - at);
    at = end + 1;
    // "lo-hi perms offset dev inode   path"
    char* p = nullptr;
    Mapping m;
    m.lo = std::strtoull(line.c_str(), &p, 16);
    if (*p != '-') continue;
    m.hi = std::strtoull(p + 1, &p, 16);
    if (*p != ' ' || p[1] == '\0' || p[2] == '\0') continue;
    m.readable = p[1] == 'r';
    m.writable = p[2] == 'w';
    int fields = 0;  // perms, offset, dev, inode
    for (; *p && fields < 4; ++fields) {
      while (*p == ' ') ++p;
      while (*p && *p != ' ') ++p;
    }
    while (*p == ' ') ++p;
    m.path = p;
    if (m.readable && m.lo < m.hi) map.mappings_.push_back(std::move(m));
  }
  std::sort(map.mappings_.begin(), map.mappings_.end(),
            [](const Mapping& a, const Mapping& b) { return a.lo < b.lo; });
  return map;
}

const Mapping* MemoryMap::find(std::uintptr_t address) const {
  auto it = std::upper_bound(mappings_.begin(), mappings_.end(), address,
                             [](std::uintptr_t a, const Mapping& m) { return a < m.lo; });
  if (it == mappings_.begin()) return nullptr;
  --it;
  return address < it->hi ? &*it : nullptr;
}

bool MemoryMap::readable(std::uintptr_t lo, std::uintptr_t hi) const {
  const Mapping* m = find(lo);
  return m && hi <= m->hi && lo <= hi;
}

std::vector<std::pair<std::uintptr_t, std::uintptr_t>> MemoryMap::readable_parts(
    std::uintptr_t lo, std::uintptr_t hi) const {
  std::vector<std::pair<std::uintptr_t, std::uintptr_t>> parts;
  auto it = std::upper_bound(mappings_.begin(), mappings_.end(), lo,
                             [](std::uintptr_t a, const Mapping& m) { return a < m.lo; });
  if (it != mappings_.begin()) --it;
  for (; it != mappings_.end() && it->lo < hi; ++it) {
    const std::uintptr_t a = std::max(lo, it->lo), b = std::min(hi, it->hi);
    if (a < b) parts.emplace_back(a, b);
  }
  return parts;
}

}  // namespace cyclegc::detail
