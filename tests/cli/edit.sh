#!/usr/bin/env bash
# Editing end to end (docs/editing.md): INSERT through `larql lql`, the base
# vindex's files unchanged (sha256 before/after), COMPILE into GGUF, a vindex
# and a safetensors folder that answer with the edit, an independent numpy
# check of the compiled tensors, llama.cpp on the compiled GGUF when its build
# is present, a patch refused on another base, and `larql edit-eval`.
source "$(dirname "$0")/lib.sh" "$@"
need_fixtures
F=$FIX/models/facts
V=$TMP/facts.vindex
"$LARQL" extract "$F/facts-F32.gguf" -o "$V" -q -t 2 && ok || fail "extract"
cp "$(dirname "$0")/../golden/facts.probes" "$V/probes.txt"
sums() { (cd "$V" && find . -type f | sort | xargs sha256sum | sha256sum); }
before=$(sums)
{
  echo "USE \"$V\";"
  echo "BEGIN PATCH \"$TMP/p.vlp\";"
  echo 'INSERT INTO EDGES (entity, relation, target) VALUES ("Spain", "capital", "Madrid");'
  echo "INSERT INTO EDGES (entity, relation, target) VALUES (\"Nigeria\", \"capital\", \"Abuja\") MODE MEMIT COVARIANCE \"$F/val.txt\";"
  echo 'SAVE PATCH;'
  echo "COMPILE CURRENT INTO MODEL \"$TMP/e.gguf\";"
  echo "COMPILE CURRENT INTO MODEL \"$TMP/e.st\" FORMAT SAFETENSORS;"
  echo "COMPILE CURRENT INTO VINDEX \"$TMP/e.vindex\";"
} >"$TMP/e.lql"
"$LARQL" lql -t 2 -f "$TMP/e.lql" >"$TMP/e.out" 2>&1 && ok || { fail "lql edit script"; cat "$TMP/e.out"; }
after=$(sums)
[ "$before" = "$after" ] && ok || fail "the base vindex changed"
"$LARQL" verify "$V" | grep -q OK && ok || fail "base vindex no longer verifies"
grep -q '"format": "larql-patch"' "$TMP/p.vlp" && ok || fail "patch file format"
for m in "$TMP/e.gguf" "$TMP/e.st" "$TMP/e.vindex"; do
  use="USE MODEL"
  [ -f "$m/index.json" ] && use="USE"
  printf '%s "%s";\nINFER "The capital of Spain is" TOP 1;\nINFER "The capital of Nigeria is" TOP 1;\nINFER "The capital of France is" TOP 1;\n' \
    "$use" "$m" >"$TMP/q.lql"
  out=$("$LARQL" lql -t 2 -f "$TMP/q.lql" 2>&1)
  got=$(echo "$out" | grep -E '^ +0 ' | awk '{print $2}' | tr '\n' ' ')
  [ "$got" = "M A Paris " ] && ok || { fail "compiled $m answers '$got', want 'M A Paris '"; echo "$out"; }
done
# Whole-word targets: greedy decoding of the compiled GGUF says the whole word
# (the unedited model: " Dublin. Here is"; a first-token-only edit: " Mg. Here is a").
grep -q 'greedy continuation (.*): " Madrid' "$TMP/e.out" && ok || fail "INSERT note: no whole-word continuation"
for pr in "Spain:Madrid" "Nigeria:Abuja" "France:Paris"; do
  out=$("$LARQL" run "$TMP/e.gguf" "The capital of ${pr%%:*} is" -n 6 --greedy -t 2 2>/dev/null)
  case "$out" in " ${pr##*:}"*) ok ;; *) fail "larql run on the compiled GGUF: '${pr%%:*}' -> '$out', want ' ${pr##*:}...'" ;; esac
done
# Independent check (gguf-py + numpy): only the edited tensors changed; the
# MEMIT layers by a rank-1 matrix (one fact), the FEATURE layer in one gate row.
$PY - "$F/facts-F32.gguf" "$TMP/e.gguf" <<'PYEOF' && ok || fail "compiled tensors (numpy check)"
import sys
sys.path.insert(0, "/work/peers/llama.cpp/gguf-py")
import numpy as np
try:
    import gguf
except ImportError:
    sys.exit(0)
a = {t.name: np.array(t.data, dtype=np.float64) for t in gguf.GGUFReader(sys.argv[1]).tensors}
b = {t.name: np.array(t.data, dtype=np.float64) for t in gguf.GGUFReader(sys.argv[2]).tensors}
changed = sorted(n for n in a if not np.array_equal(a[n], b[n]))
assert changed == ["blk.1.ffn_down.weight", "blk.2.ffn_down.weight", "blk.3.ffn_down.weight",
                   "blk.3.ffn_gate.weight", "blk.3.ffn_up.weight"], changed
# MEMIT: one rank-1 term per target token of " Abuja" (5 tokens: ' A' b u j a);
# FEATURE: one gate row per target token of " Madrid" (4: ' M' ad ri d).
for l in (1, 2):
    d = b["blk.%d.ffn_down.weight" % l] - a["blk.%d.ffn_down.weight" % l]
    s = np.linalg.svd(d, compute_uv=False)
    assert (s > 1e-3 * s[0]).sum() == 5, s[:7]
g = b["blk.3.ffn_gate.weight"] - a["blk.3.ffn_gate.weight"]
assert (np.abs(g).sum(axis=1) > 0).sum() == 4
PYEOF
LLAMA=/work/peers/llama.cpp/build/bin/llama-cli
if [ -x "$LLAMA" ]; then
  for pr in "Spain:Madrid" "Nigeria:Abuja"; do
    out=$(timeout 60 "$LLAMA" -m "$TMP/e.gguf" -p "The capital of ${pr%%:*} is" -n 6 --temp 0 -no-cnv --no-warmup 2>/dev/null)
    echo "$out" | grep -q "The capital of ${pr%%:*} is ${pr##*:}" && ok || fail "llama.cpp on the compiled GGUF: $out"
  done
fi
# A patch made for the F32 model is refused on Q8_0 (other weights).
printf 'USE MODEL "%s";\nAPPLY PATCH "%s";\n' "$F/facts-Q8_0.gguf" "$TMP/p.vlp" >"$TMP/r.lql"
"$LARQL" lql -t 2 -f "$TMP/r.lql" 2>&1 | grep -q "made for another model" && ok || fail "patch applied to another base"
out=$("$LARQL" edit-eval "$F/facts-F32.gguf" --facts "$F/facts.tsv" --templates "$F/templates.tsv" --mode knn --count 5 --specificity 20 --json -t 2)
echo "$out" | $PY -c 'import json,sys; j=json.load(sys.stdin); assert j["edits"]==5 and j["efficacy"]==1.0 and j["efficacy_word"]==1.0 and j["recall_edited"]>=0.95, j' && ok || fail "edit-eval: $out"
expect_fail "$LARQL" edit-eval "$F/facts-F32.gguf" --facts "$TMP/none.tsv" --templates "$F/templates.tsv"
expect_fail "$LARQL" edit-eval "$F/facts-F32.gguf" --facts "$F/facts.tsv" --templates "$F/templates.tsv" --mode memit
expect_fail "$LARQL" edit-eval "$F/facts-F32.gguf" --facts "$F/facts.tsv" --templates "$F/templates.tsv" --mode bogus
finish
