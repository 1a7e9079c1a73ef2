// leaky_cache: a cache that is never evicted. Nothing here is garbage — every entry stays
// reachable — so no collector can help; the agent's periodic reports show the live entries,
// counted by allocation site, growing from one report to the next.
// Usage: leaky_cache [REQUESTS] [--signal]   (--signal: raise the dump signal halfway)
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <string>
#include <thread>

#include "cyclegc/cyclegc.h"

struct Entry {
  std::string key;
  std::string value;
  cyclegc::Ref<Entry> replaced;  // the entry this one superseded, kept "for auditing"
  void trace(cyclegc::Visitor& v) const { v("replaced", replaced); }
};

struct Cache {
  std::map<std::string, cyclegc::Ref<Entry>> entries;
  void trace(cyclegc::Visitor& v) const { v("entries", entries); }
};

int main(int argc, char** argv) {
  const int requests = argc > 1 ? std::atoi(argv[1]) : 2000;
  const bool signal_halfway = argc > 2 && std::strcmp(argv[2], "--signal") == 0;
  auto cache = cyclegc::make<Cache>();
  for (int i = 0; i < requests; ++i) {
    std::string key = "user" + std::to_string(i);  // every request a new key: nothing is reused
    auto entry = cyclegc::make<Entry>();           // ALLOC: cache-entry
    entry->key = key;
    entry->value = std::string(64, 'x');
    cache->entries[key] = entry;
    if (i % 100 == 99) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    if (signal_halfway && i == requests / 2) {
      std::raise(SIGUSR1);
      std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let the report be written
    }
  }
  std::cout << "cache holds " << cache->entries.size() << " entries\n";
}
