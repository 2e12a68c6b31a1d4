#!/usr/bin/env bash
# README command (b): install what is missing, build, run the whole test suite:
# unit + CLI tests (Release), the same unit tests under ASan+UBSan, then each
# libFuzzer target for a bounded time. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
start=$SECONDS

echo "== release build + tests"
bash scripts/build.sh release
ctest --test-dir build --output-on-failure -j "$(nproc)" --timeout 900 | tee -a "$log"

echo "== ASan+UBSan build + tests"
bash scripts/build.sh asan
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j "$(nproc)" --timeout 1800 | tee -a "$log"

echo "== fuzzers (${FUZZ_SECONDS}s each)"
bash scripts/build.sh fuzz
bash scripts/fuzz.sh "$FUZZ_SECONDS" | tee -a "$log"

# One closing line over everything (ctest runs that got here passed; set -o pipefail stops on failures).
total=$(grep -oE 'tests failed out of [0-9]+' "$log" | awk '{s += $5} END {print s + 0}')
fuzz=$(grep -oE '^fuzz: [0-9]+ passed' "$log" | awk '{print $2}')
skipped=$(grep -cE '\(Skipped\)$' "$log" || true)
echo "suite took $((SECONDS - start)) s"
echo "total: $((total - skipped + ${fuzz:-0})) passed, 0 failed, ${skipped} skipped"
