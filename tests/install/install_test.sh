#!/usr/bin/env bash
# Installs cyclegc from BUILD_DIR into a scratch prefix, then builds and runs a user's project
# against it twice — with CMake's find_package and with pkg-config — and once under the agent.
# Usage: install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 source=$2
scratch=$(mktemp -d /tmp/cyclegc-install-XXXXXX)
trap 'rm -rf "$scratch"' EXIT
prefix=$scratch/prefix

cmake --install "$build" --prefix "$prefix" >/dev/null

echo "== find_package(cyclegc) from the installed prefix: every exported target"
cmake -S "$source/tests/install/consumer" -B "$scratch/cmake" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_BUILD_RPATH="$prefix/lib" >/dev/null
cmake --build "$scratch/cmake" >/dev/null
out=$("$scratch/cmake/consumer")
echo "$out"
grep -qx "collected 2" <<<"$out"
grep -qx "agent at $prefix/lib/libcyclegc_agent.so" <<<"$out"
"$scratch/cmake/consumer_static" | grep -qx "collected 2"
"$scratch/cmake/consumer_gtest" >/dev/null

echo "== find_package(cyclegc) where GoogleTest is not installed"
cmake -S "$source/tests/install/consumer" -B "$scratch/cmake-nogtest" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_BUILD_RPATH="$prefix/lib" -DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON >/dev/null
cmake --build "$scratch/cmake-nogtest" >/dev/null
[ ! -e "$scratch/cmake-nogtest/consumer_gtest" ]
"$scratch/cmake-nogtest/consumer" | grep -qx "collected 2"

echo "== pkg-config cyclegc"
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
[ "$(pkg-config --modversion cyclegc)" = "0.1.0" ]
# shellcheck disable=SC2046
g++ -std=c++23 "$source/tests/install/consumer/main.cc" $(pkg-config --cflags --libs cyclegc) \
  -Wl,-rpath,"$prefix/lib" -o "$scratch/consumer_pc"
"$scratch/consumer_pc" | grep -qx "collected 2"

echo "== the installed agent in processes that do not use cyclegc"
agent="$prefix/lib/libcyclegc_agent.so"
for cmd in "sh -c true" "env true" "/bin/true"; do
  # shellcheck disable=SC2086
  out=$(env -u LD_LIBRARY_PATH LD_PRELOAD="$agent" $cmd 2>&1) || {
    echo "LD_PRELOAD=$agent $cmd failed: $out"
    exit 1
  }
  [ -z "$out" ] || { echo "LD_PRELOAD=$agent $cmd said: $out"; exit 1; }
done

echo "== the installed agent and report tool"
(cd "$scratch" && LD_PRELOAD="$(pkg-config --variable=agent cyclegc)" \
   CYCLEGC_OPTIONS="debug=saveall:report_path=r.json:summary=0" ./consumer_pc >/dev/null)
"$prefix/bin/cyclegc-report" summary "$scratch/r.json" | grep -q "1 x cycle of 2 Peer"
echo "installed cyclegc works from CMake, pkg-config, LD_PRELOAD and cyclegc-report"
