#!/usr/bin/env bash
# A BF16 model end to end: `larql synth --type bf16`, then prefill logits of a
# 40-token prompt (two 16-token AMX tiles and a tail) by every path of the
# BF16 product: the default dispatch (AVX-512 here, the tile hardware on an AMX
# CPU), the AMX-BF16 kernel through the software tile model (LARQL_AMX=model),
# and the scalar reference (LARQL_FORCE_SCALAR=1). All three follow ggml's
# 16-lane order, so the logits must be identical bit for bit. Needs no fixtures.
source "$(dirname "$0")/lib.sh" "$@"

M=$TMP/bf16.gguf
if ! "$LARQL" synth --arch llama --preset tiny --type bf16 --layers 2 -o "$M" >"$TMP/out" 2>&1; then
  fail "synth --type bf16: $(cat "$TMP/out")"; finish; exit
fi
"$LARQL" info "$M" --json >"$TMP/info.json" 2>&1 && grep -q '"BF16"' "$TMP/info.json" && ok || fail "info shows no BF16 tensors"

toks=$(seq -s, 1 40)
run_logits() {  # run_logits NAME ENV...
  local name=$1; shift
  if env "$@" "$LARQL" logits "$M" --tokens "$toks" -t 2 --out "$TMP/$name.bin" 2>"$TMP/$name.err"; then ok
  else fail "logits ($name): $(cat "$TMP/$name.err")"; fi
}
run_logits default LARQL_AMX_UNUSED=1
run_logits model LARQL_AMX=model
run_logits scalar LARQL_FORCE_SCALAR=1
[ -s "$TMP/default.bin" ] && ok || fail "no logits written"
cmp -s "$TMP/default.bin" "$TMP/model.bin" && ok || fail "LARQL_AMX=model logits differ from the default path"
cmp -s "$TMP/default.bin" "$TMP/scalar.bin" && ok || fail "scalar-path logits differ from the default path"
grep -q "self-check failed" "$TMP/model.err" && fail "AMX model self-check failed: $(cat "$TMP/model.err")" || ok
finish
