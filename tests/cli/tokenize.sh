#!/usr/bin/env bash
# larql tokenize/detokenize against the fixture vocab vectors and the facts model.
source "$(dirname "$0")/lib.sh" "$@"
need_fixtures
facts=$FIX/models/facts/facts-F32.gguf
# --no-special --ids on the tok512 vectors (llama-tokenize --no-bos --no-parse-special);
# python passes each text as one exact argv entry (trailing newlines included).
res=$($PY - "$LARQL" "$FIX" <<'PYEOF'
import json, subprocess, sys
larql, fix = sys.argv[1], sys.argv[2]
cases = json.load(open(fix + "/reference/tok512-tokenizer-tests.json"))["tests"]
bad = 0
for c in cases:
    out = subprocess.run([larql, "tokenize", fix + "/models/synthetic/tiny-llama-gqa-F32.gguf", c["text"],
                          "--ids", "--no-special"], capture_output=True, text=True)
    got = out.stdout.split()
    if out.returncode != 0 or got != [str(i) for i in c["ids_no_bos"]]:
        bad += 1
        print("mismatch for %r: got %s want %s" % (c["text"], got, c["ids_no_bos"]), file=sys.stderr)
print(len(cases), bad)
PYEOF
)
set -- $res
[ "${1:-0}" -gt 0 ] && [ "${2:-1}" = 0 ] && ok || fail "tok512 vectors: ${2:-?} of ${1:-?} mismatched"
# with BOS by default
got=$("$LARQL" tokenize "$facts" "The capital of France is" --ids)
case "$got" in 1\ *) ok ;; *) fail "BOS not added: $got" ;; esac
got=$("$LARQL" tokenize "$facts" "The capital of France is" --ids --no-special)
case "$got" in 1\ *) fail "--no-special added BOS: $got" ;; *) ok ;; esac
# detokenize round trip
ids=$("$LARQL" tokenize "$facts" "Paris is the capital of France." --ids --no-special)
text=$("$LARQL" detokenize "$facts" "$ids")
[ "$text" = "Paris is the capital of France." ] && ok || fail "detokenize gave '$text'"
# json output
"$LARQL" tokenize "$facts" "hi" --json | $PY -c 'import json,sys; j=json.load(sys.stdin); assert "ids" in j and "pieces" in j' && ok || fail "tokenize --json"
expect_fail "$LARQL" detokenize "$facts" "1,2,999999"
expect_fail "$LARQL" detokenize "$facts" "1,abc"
expect_fail "$LARQL" tokenize /nonexistent.gguf "x"
finish
