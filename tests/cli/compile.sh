#!/usr/bin/env bash
# larql compile: GGUF / safetensors / vindex outputs give the source's greedy
# text; an edit (silencing " Paris" in the output head) changes it; bad input
# is rejected. If LLAMA_CPP_BIN_DIR points at a llama.cpp build (llama-cli),
# llama.cpp's greedy text on the compiled GGUFs must equal larql's; otherwise
# that part is skipped (exit 77 once everything else passed).
source "$(dirname "$0")/lib.sh" "$@"
need_fixtures
F=$FIX/models/facts
P="The capital of France is"
PARIS=1843   # " Paris": the facts model's greedy answer (fixtures reference/facts-F32/index.json)
gen() { "$LARQL" run "$1" "$P" -n 8 --greedy -t 1 2>/dev/null; }

REF=$(gen "$F/facts-F32.gguf")
case "$REF" in " Paris"*) ok ;; *) fail "unexpected larql greedy text on the source: '$REF'" ;; esac

# Plain conversions: same greedy text.
"$LARQL" compile "$F/facts-F32.gguf" -o "$TMP/plain.gguf" -q && ok || fail "compile gguf"
[ "$(gen "$TMP/plain.gguf")" = "$REF" ] && ok || fail "gguf copy generates differently"
"$LARQL" compile "$F/facts-F32.gguf" -o "$TMP/hf" --format safetensors -q && ok || fail "compile safetensors"
[ -f "$TMP/hf/config.json" ] && [ -f "$TMP/hf/model.safetensors" ] && [ -f "$TMP/hf/tokenizer.json" ] && ok || fail "HF folder incomplete"
[ "$(gen "$TMP/hf")" = "$REF" ] && ok || fail "safetensors folder generates differently"
"$LARQL" compile "$TMP/hf" -o "$TMP/back.gguf" -q && ok || fail "compile HF folder back to gguf"
[ "$(gen "$TMP/back.gguf")" = "$REF" ] && ok || fail "HF -> gguf generates differently"
"$LARQL" compile "$F/facts-F32.gguf" -o "$TMP/v.vindex" --format vindex -q --down-top 3 --clusters 4 && ok || fail "compile vindex"
"$LARQL" verify "$TMP/v.vindex" | grep -q OK && ok || fail "compiled vindex does not verify"
[ "$(gen "$TMP/v.vindex")" = "$REF" ] && ok || fail "vindex generates differently"
"$LARQL" compile "$TMP/v.vindex" -o "$TMP/from-vindex.gguf" -q && ok || fail "compile vindex -> gguf"
[ "$(gen "$TMP/from-vindex.gguf")" = "$REF" ] && ok || fail "vindex -> gguf generates differently"

# An edit: output.weight row of " Paris" scaled to 0, in the F32 and the Q4_K_M model.
for q in F32 Q4_K_M; do
  "$LARQL" compile "$F/facts-$q.gguf" -o "$TMP/edit-$q.gguf" -q --scale-row "output.weight:$PARIS:0" && ok || fail "compile edit $q"
  E=$(gen "$TMP/edit-$q.gguf")
  case "$E" in " Paris"*) fail "edit $q had no effect: '$E'" ;; "") fail "edit $q: no output" ;; *) ok ;; esac
done

# Bad input.
expect_fail "$LARQL" compile "$F/facts-F32.gguf" -o "$TMP/plain.gguf" -q            # exists
"$LARQL" compile "$F/facts-F32.gguf" -o "$TMP/plain.gguf" -q -f && ok || fail "--force overwrite"
expect_fail "$LARQL" compile "$F/facts-F32.gguf" -o "$TMP/x" --format onnx -q
expect_fail "$LARQL" compile "$F/facts-F32.gguf" -o "$TMP/x.gguf" -q --scale-row "nope.weight:0:2"
expect_fail "$LARQL" compile "$F/facts-F32.gguf" -o "$TMP/x.gguf" -q --scale-row "output.weight:999999:2"
printf 'abcd' > "$TMP/short.f32"
expect_fail "$LARQL" compile "$F/facts-F32.gguf" -o "$TMP/x.gguf" -q --override "output.weight=$TMP/short.f32"
expect_fail "$LARQL" compile "$TMP/missing.gguf" -o "$TMP/x.gguf" -q
[ -e "$TMP/x.gguf" ] && fail "failed compile left an output" || ok

# llama.cpp on the compiled files.
BIN=${LLAMA_CPP_BIN_DIR:-}
if [ -z "$BIN" ] || [ ! -x "$BIN/llama-cli" ]; then
  echo "$passes passed, $fails failed"
  [ "$fails" -eq 0 ] || exit 1
  echo "SKIPPED: llama.cpp checks (set LLAMA_CPP_BIN_DIR to a llama.cpp build/bin with llama-cli)"
  exit 77
fi
llama() {  # greedy text, as larql prints it (llama-cli marks EOS with " [end of text]")
  timeout 120 "$BIN/llama-cli" -m "$1" -p "$P" -n 8 --temp 0 -no-cnv --no-display-prompt --simple-io -t 1 \
    --no-warmup -c 512 2>/dev/null | sed -e 's/ \[end of text\]$//' -e '/^$/d'
}
for m in "$F/facts-F32.gguf" "$TMP/plain.gguf" "$TMP/back.gguf" "$TMP/from-vindex.gguf" "$TMP/edit-F32.gguf" "$TMP/edit-Q4_K_M.gguf"; do
  A=$(llama "$m"); B=$(gen "$m")
  echo "llama.cpp: $(basename "$m"): '$A'   larql: '$B'"
  [ -n "$A" ] && [ "$A" = "$B" ] && ok || fail "llama.cpp and larql differ on $(basename "$m")"
done
finish
