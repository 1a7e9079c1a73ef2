// gc_debug_saveall: DEBUG_SAVEALL keeps every object the collector finds in garbage(), where
// the program can inspect it.
#include "debug_graphs.h"

int main() {
  collect_and_report_retained(cyclegc::DEBUG_COLLECTABLE | cyclegc::DEBUG_UNCOLLECTABLE |
                              cyclegc::DEBUG_SAVEALL);
}
