#!/usr/bin/env bash
# larql perplexity agrees with llama.cpp's perplexity tool on the facts model.
# Expected values were measured with llama.cpp c392e50's llama-perplexity on this
# file with the same arguments (-c 128 --chunks 20): F32 14.3460, Q4_K_M 14.5891.
source "$(dirname "$0")/lib.sh" "$@"
need_fixtures
facts=$FIX/models/facts
check() {
  local model=$1 want=$2 tol=$3 got
  got=$("$LARQL" perplexity "$facts/$model" -f "$facts/val.txt" -c 128 --chunks 20 --json -t 2 |
        $PY -c 'import json,sys; print(json.load(sys.stdin)["ppl"])')
  $PY -c "import sys; sys.exit(0 if abs($got - $want) <= $tol else 1)" && ok || fail "$model: PPL $got, llama.cpp $want"
  echo "$model: PPL $got (llama.cpp $want)"
}
check facts-F32.gguf 14.3460 0.002
check facts-Q4_K_M.gguf 14.5891 0.02
printf 'too short' > "$TMP/short.txt"
expect_fail "$LARQL" perplexity "$facts/facts-F32.gguf" -f "$TMP/short.txt" -c 128
expect_fail "$LARQL" perplexity "$facts/facts-F32.gguf" -f /nonexistent.txt
finish
