#!/usr/bin/env bash
# larql info: parameter counts of every fixture model equal the manifest's; --json is one object.
source "$(dirname "$0")/lib.sh" "$@"
need_fixtures
manifest=$FIX/models/synthetic/manifest.json
for f in "$FIX"/models/synthetic/*.gguf "$FIX"/models/facts/facts-*.gguf; do
  name=$(basename "$f")
  json=$("$LARQL" info "$f" --json) || { fail "info $name"; continue; }
  got=$(echo "$json" | $PY -c 'import json,sys; print(json.load(sys.stdin)["n_params"])')
  case $name in
    facts-*) want=4983040 ;;
    *) want=$($PY -c "import json; print(json.load(open('$manifest'))['files']['$name']['n_params'])") ;;
  esac
  [ "$got" = "$want" ] && ok || fail "$name: n_params $got, expected $want"
done
# human output mentions architecture and parameters
out=$("$LARQL" info "$FIX/models/synthetic/tiny-qwen2-Q4_K_M.gguf")
echo "$out" | grep -q "architecture  qwen2" && ok || fail "human info lacks architecture"
echo "$out" | grep -q "Q4_K" && ok || fail "human info lacks type histogram"
# errors
expect_fail "$LARQL" info /nonexistent.gguf
head -c 100 "$FIX/models/synthetic/tiny-qwen2-F32.gguf" > "$TMP/trunc.gguf"
expect_fail "$LARQL" info "$TMP/trunc.gguf"
echo "hello" > "$TMP/junk.bin"
expect_fail "$LARQL" info "$TMP/junk.bin"
expect_fail "$LARQL" info
"$LARQL" info --help >/dev/null && ok || fail "info --help"
finish
