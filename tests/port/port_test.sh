#!/usr/bin/env bash
# The port of tests/port/scene_shared_ptr.cc must be the original with the renames of
# renames.sed, plus cyclegc's include and the trace members, and nothing else; the original
# must leak its scene graphs and the port free them while it runs.
# Usage: port_test.sh SOURCE_DIR ORIGINAL_PROGRAM PORTED_PROGRAM [sanitized]
# In a sanitizer build only the renames and the leak are checked: how much the port frees as
# it runs depends on thread timing the sanitizer changes (tests/unit/gc_fixture.h, kSanitized).
set -euo pipefail
src=$1 original=$2 port=$3 sanitized=${4:-}

# The port, less what a port adds: the include, and each trace member (one line, or up to the
# closing brace at its indentation).
added_removed=$(awk '
  skip_until != "" { if ($0 == skip_until) skip_until = ""; next }
  /^#include <cyclegc\/cyclegc.h>$/ { drop_blank = 1; next }
  drop_blank && /^$/ { drop_blank = 0; next }
  { drop_blank = 0 }
  /void trace\(cyclegc::Visitor& v\) const/ {
    if ($0 !~ /}$/) { match($0, /^ */); skip_until = substr($0, 1, RLENGTH) "}" }
    next
  }
  { print }' "$src/scene_cyclegc.cc")
if ! diff -u <(sed -f "$src/renames.sed" "$src/scene_shared_ptr.cc") <(printf '%s\n' "$added_removed"); then
  echo "FAIL: the port differs from the original by more than renames and trace members"
  exit 1
fi

# Each frame's nodes are alive while it runs, so collections promote them; once dropped, their
# cycles wait for the older generation's next collection, as in CPython (measured: 64-81% freed
# by frame 300, 77% by 1,000, 98% by 3,000). Hence a bound at 1,000 frames well below that.
share() {  # destroyed / nodes, from the program's last line
  "$1" 1000 | awk '{ printf "%.4f", $6 / $4 }'
}
# The original leaks by design; LeakSanitizer, in the ASan build, would fail it for that.
leaked=$(ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" share "$original")
freed=$(share "$port")
echo "std::shared_ptr original: $leaked of its nodes destroyed; cyclegc port: $freed"
[ -n "$sanitized" ] && freed=1
awk -v l="$leaked" -v f="$freed" 'BEGIN { exit !(l < 0.05 && f >= 0.5) }' || {
  echo "FAIL: expected the original to leak (< 5% destroyed) and the port to free >= 50% as it runs"
  exit 1
}
echo "1 passed, 0 failed"
