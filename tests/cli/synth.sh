#!/usr/bin/env bash
# larql synth writes a model that info and tokenize read back.
source "$(dirname "$0")/lib.sh" "$@"
for arch in llama qwen2 qwen3 gemma2 gemma3 phi3 gpt2 mixtral qwen3moe deepseek2; do
  for t in f32 f16 q8_0 q4_0 q4_k_m q6_k; do
    "$LARQL" synth --arch $arch --type $t -o "$TMP/$arch-$t.gguf" -q >/dev/null || { fail "synth $arch $t"; continue; }
    "$LARQL" info "$TMP/$arch-$t.gguf" --json > "$TMP/info.json" || { fail "info $arch $t"; continue; }
    ok
  done
done
"$LARQL" synth --arch llama --layers 3 --seed 5 -o "$TMP/l3.gguf" -q >/dev/null
n=$("$LARQL" info "$TMP/l3.gguf" --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["hparams"]["n_layer"])')
[ "$n" = 3 ] && ok || fail "--layers 3 gave $n layers"
ids=$("$LARQL" tokenize "$TMP/l3.gguf" "Hello world" --ids) && [ -n "$ids" ] && ok || fail "tokenize synth model"
expect_fail "$LARQL" synth --arch nope -o "$TMP/x.gguf"
expect_fail "$LARQL" synth --arch llama --preset huge -o "$TMP/x.gguf"
expect_fail "$LARQL" synth --arch llama --type q3_k -o "$TMP/x.gguf"
expect_fail "$LARQL" synth --arch llama
expect_fail "$LARQL" synth --arch llama -o /nonexistent-dir/x.gguf
finish
