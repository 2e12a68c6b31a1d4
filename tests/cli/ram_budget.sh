# --ram-budget keeps resident memory under the budget on a MoE model bigger
# than the budget, and changes no output.
#   * model: `larql synth` qwen3moe-30b-a3b shape, 2 layers, Q4_K_M (1.19 GB;
#     128 experts of 2.9 MB per layer), cached as /tmp/larql-ram-budget-q3m-2l.gguf
#     (or LARQL_RAM_BUDGET_MODEL) because synthesizing takes a minute or two;
#   * budget: 55% of the file (50% leaves less than the 18-slot minimum once the
#     non-expert 0.45 GB, KV, scratch and runtime are counted);
#   * VmRSS of the running `larql bench` is sampled every 10 ms and its VmHWM
#     (kernel-recorded peak) is printed by --moe-stats --json; both must stay
#     <= budget. No allowance is added: the plan already reserves the runtime.
#   * the same bench without a budget must exceed the budget (so this can fail);
#   * greedy ids with and without the budget must be identical.
source "$(dirname "$0")/lib.sh" "$@"
if [ -n "${LARQL_SANITIZED:-}" ]; then
  echo "SKIPPED: RSS budgets are meaningless under ASan (shadow memory and quarantine); the ExpertCache unit tests cover correctness there"
  exit 77
fi
M=${LARQL_RAM_BUDGET_MODEL:-/tmp/larql-ram-budget-q3m-2l.gguf}
if [ ! -s "$M" ]; then
  "$LARQL" synth --arch qwen3moe --preset qwen3moe-30b-a3b --layers 2 --type q4_k_m -o "$M.part" -q >/dev/null \
    && mv "$M.part" "$M" || { fail "synth"; finish; exit; }
fi
size=$(stat -c %s "$M")
budget_gb=$($PY -c "print(round($size * 0.55 / 2**30, 3))")
budget=$($PY -c "print(int($budget_gb * 2**30))")

# Runs bench in the background, samples VmRSS; prints "max_sampled_rss peak_hwm_from_json".
measure() {
  "$LARQL" bench "$M" -p 16 -n 24 -r 1 -t 2 --moe-stats --json "$@" > "$TMP/out.json" 2> "$TMP/err" &
  local pid=$! max=0 kb
  while kill -0 $pid 2>/dev/null; do
    kb=$(awk '/^VmRSS:/ {print $2}' /proc/$pid/status 2>/dev/null || echo 0)
    [ -n "$kb" ] && [ "$kb" -gt "$max" ] && max=$kb
    sleep 0.01
  done
  wait $pid || { cat "$TMP/err"; fail "bench $*"; }
  local hwm
  hwm=$($PY -c "import json,sys; print(max(json.loads(l)['moe']['peak_rss_bytes'] for l in open('$TMP/out.json')))" 2>/dev/null || echo 0)
  echo "$((max * 1024)) $hwm"
}

read -r rss hwm < <(measure --ram-budget "$budget_gb")
echo "budget $budget bytes ($budget_gb GiB, 55% of $size): sampled max RSS $rss, VmHWM $hwm"
[ "$rss" -gt 0 ] && [ "$rss" -le "$budget" ] && ok || fail "sampled RSS $rss > budget $budget"
[ "$hwm" -gt 0 ] && [ "$hwm" -le "$budget" ] && ok || fail "peak RSS (VmHWM) $hwm > budget $budget"
grep -q '"cache_hit_rate"' "$TMP/out.json" && ok || fail "no cache stats in --moe-stats --json"

read -r rss0 hwm0 < <(measure)
echo "no budget: sampled max RSS $rss0, VmHWM $hwm0"
[ "$hwm0" -gt "$budget" ] && ok || fail "without a budget the peak ($hwm0) should exceed $budget; the test proves nothing"

ids() { "$LARQL" run "$M" --prompt-ids 1,2,3,4,5,6,7,8 -n 12 -c 64 --greedy --json -t 2 "$@" 2>/dev/null \
        | $PY -c "import json,sys; print(json.load(sys.stdin)['generated_ids'])"; }
a=$(ids); b=$(ids --ram-budget "$budget_gb" --expert-policy lru)
[ -n "$a" ] && [ "$a" = "$b" ] && ok || fail "greedy ids differ with --ram-budget: '$a' vs '$b'"
expect_fail "$LARQL" run "$M" --prompt-ids 1,2 -n 1 --ram-budget 0.3
expect_fail "$LARQL" run "$M" --prompt-ids 1,2 -n 1 --ram-budget 1 --expert-policy fifo
finish
