#!/usr/bin/env bash
# Runs every libFuzzer target in build-fuzz for N seconds on a scratch copy of its seed corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
total_pass=0; total_fail=0
for bin in build-fuzz/bin/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin"); name=${name#fuzz_}
  work=$(mktemp -d)
  [ -d "tests/fuzz/corpus/$name" ] && cp -r "tests/fuzz/corpus/$name/." "$work/"
  log=$(mktemp)
  if "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -max_len=65536 \
       -print_final_stats=1 "$work" >"$log" 2>&1; then
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    echo "fuzz_$name: ok, $execs executions in ${secs}s"
    total_pass=$((total_pass+1))
  else
    echo "fuzz_$name: FAILED"; tail -n 60 "$log"
    total_fail=$((total_fail+1))
  fi
  rm -rf "$work" "$log"
done
echo "fuzz: $total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
