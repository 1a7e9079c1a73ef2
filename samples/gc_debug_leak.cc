// gc_debug_leak: DEBUG_LEAK is COLLECTABLE | UNCOLLECTABLE | SAVEALL, so even collectable
// objects are kept in garbage() instead of being freed.
#include "debug_graphs.h"

int main() { collect_and_report_retained(cyclegc::DEBUG_LEAK); }
