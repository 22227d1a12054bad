#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test.
#   scripts/test.sh             g++ build in build/
#   scripts/test.sh --sanitize  clang build with AddressSanitizer, UndefinedBehaviorSanitizer and
#                               -Wthread-safety in build-asan/
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-}
bash scripts/install-deps.sh
if [ -f scripts/install-node-deps.sh ]; then bash scripts/install-node-deps.sh; fi

jobs=$(nproc)
case "$mode" in
  "")
    build=build
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    ;;
  --sanitize)
    build=build-asan
    CC=clang CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DRUNNER_SANITIZE=ON \
      -DRUNNER_BUILD_BENCHMARKS=OFF >/dev/null
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    ;;
  *)
    echo "usage: scripts/test.sh [--sanitize]" >&2
    exit 2
    ;;
esac

echo "== building in $build"
cmake --build "$build" -j"$jobs"
echo "== running tests in $build"
ctest --test-dir "$build" --output-on-failure -j"$jobs" --timeout 300
