#!/usr/bin/env bash
# README command (b): install what is missing, build, run the whole test suite:
# unit + CLI tests (Release), the same unit tests under ASan+UBSan, then each
# libFuzzer target for a bounded time. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
FUZZ_SECONDS=${FUZZ_SECONDS:-30}

echo "== release build + tests"
bash scripts/build.sh release
ctest --test-dir build --output-on-failure -j "$(nproc)" --timeout 900

echo "== ASan+UBSan build + tests"
bash scripts/build.sh asan
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j "$(nproc)" --timeout 1800

echo "== fuzzers (${FUZZ_SECONDS}s each)"
bash scripts/build.sh fuzz
bash scripts/fuzz.sh "$FUZZ_SECONDS"
