#!/usr/bin/env bash
# `larql logits --numerics`: each profile reproduces the references its engine
# made, bit for bit, through the command line (tiny-qwen3 was made by
# ik_llama.cpp with an f16 cache, tiny-llama-gqa by llama.cpp with f32).
source "$(dirname "$0")/lib.sh" "$@"
need_fixtures

check() {  # check STEM KV PROFILE EXPECT(exact|differs)
  local stem=$1 kv=$2 prof=$3 want=$4 ref=$FIX/reference/$1
  local model=$FIX/models/synthetic/$("$PY" -c "import json;print(json.load(open('$ref/index.json'))['model_file'])")
  local toks; toks=$("$PY" -c "import json;print(','.join(map(str,json.load(open('$ref/index.json'))['prompts'][2]['tokens'])))")
  if ! "$LARQL" logits "$model" --tokens "$toks" --kv "$kv" --numerics "$prof" -t 1 --out "$TMP/l.bin" 2>"$TMP/err"; then
    fail "logits $stem $prof: $(cat "$TMP/err")"; return
  fi
  local d; d=$("$PY" - "$ref" "$TMP/l.bin" <<'PY'
import json, sys, numpy as np
ref, got = sys.argv[1], sys.argv[2]
f = json.load(open(ref + "/index.json"))["prompts"][2]["logits_file"]
print(float(np.abs(np.fromfile(got, "<f4") - np.fromfile(ref + "/" + f, "<f4")).max()))
PY
)
  if [ "$want" = exact ]; then
    [ "$d" = "0.0" ] && ok || fail "$stem with --numerics $prof: max|d| $d, expected 0"
  else
    [ "$d" != "0.0" ] && ok || fail "$stem with --numerics $prof: expected a difference"
  fi
}
check tiny-qwen3-Q4_K_M f16 ik_llama.cpp exact
check tiny-qwen3-Q4_K_M f16 llama.cpp differs
check tiny-llama-gqa-Q4_K_M f32 llama.cpp exact
expect_fail "$LARQL" logits "$FIX/models/synthetic/tiny-qwen3-F32.gguf" --tokens 1,2 --json --numerics bogus
finish
