#!/usr/bin/env bash
# larql extract / verify / vindex as MODEL: checksums checked independently
# with the system libxxhash, logits identical to the source model, corruption
# caught, bad input rejected without crashes.
source "$(dirname "$0")/lib.sh" "$@"
need_fixtures
F=$FIX/models/facts
V=$TMP/facts.vindex
"$LARQL" extract "$F/facts-F32.gguf" -o "$V" -q --down-top 5 --clusters 8 && ok || fail "extract facts F32"
[ -f "$V/index.json" ] && ok || fail "no index.json"
ls "$TMP" | grep -q tmp- && fail "temporary directory left behind" || ok
"$LARQL" verify "$V" | grep -q OK && ok || fail "verify clean vindex"
# Checksums in index.json agree with libxxhash's XXH64 (independent implementation), when available.
$PY - "$V" <<'PYEOF' && ok || fail "index.json checksums disagree with libxxhash"
import ctypes, json, sys, os
try:
    lib = ctypes.CDLL("libxxhash.so.0")
except OSError:
    sys.exit(0)
lib.XXH64.restype = ctypes.c_uint64
lib.XXH64.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint64]
d = sys.argv[1]
m = json.load(open(os.path.join(d, "index.json")))
assert m["format"] == "larql-vindex" and m["version"] == 1
for f in m["files"]:
    b = open(os.path.join(d, f["path"]), "rb").read()
    assert len(b) == f["bytes"], f["path"]
    assert "%016x" % lib.XXH64(b, len(b), 0) == f["xxh64"], f["path"]
# every tensor lies inside its file
sizes = {f["path"]: f["bytes"] for f in m["files"]}
for t in m["tensors"]:
    assert t["offset"] + t["n_bytes"] <= sizes[t["file"]], t["name"]
PYEOF
# The vindex works wherever a MODEL is taken; logits are bit-identical.
for q in F32 Q4_K_M; do
  src=$F/facts-$q.gguf
  if [ $q = F32 ]; then vx=$V; else vx=$TMP/q.vindex; "$LARQL" extract "$src" -o "$vx" -q --level inference || fail "extract $q"; fi
  "$LARQL" logits "$src" --tokens 1,450,1000,2000,42 --out "$TMP/a.f32" &&
  "$LARQL" logits "$vx" --tokens 1,450,1000,2000,42 --out "$TMP/b.f32" && cmp -s "$TMP/a.f32" "$TMP/b.f32" && ok || fail "logits differ ($q)"
done
a=$("$LARQL" run "$F/facts-F32.gguf" "The capital of France is" -n 4 --temp 0 2>/dev/null)
b=$("$LARQL" run "$V" "The capital of France is" -n 4 --temp 0 2>/dev/null)
[ -n "$a" ] && [ "$a" = "$b" ] && ok || fail "run differs: '$a' vs '$b'"
"$LARQL" tokenize "$V" "The capital of France is" > "$TMP/t1" && "$LARQL" tokenize "$F/facts-F32.gguf" "The capital of France is" > "$TMP/t2" && cmp -s "$TMP/t1" "$TMP/t2" && ok || fail "tokenize via vindex"
"$LARQL" info "$V" | grep -q "format        vindex" && ok || fail "info vindex"
"$LARQL" info "$V" --json | $PY -c 'import json,sys; j=json.load(sys.stdin); assert j["vindex"]["level"]=="all" and j["vindex"]["n_clusters"]==8' && ok || fail "info --json vindex"
"$LARQL" bench --vindex "$V" -r 2 | grep -q "^0 " && ok || fail "bench --vindex"
"$LARQL" bench --vindex "$V" -r 1 --json | head -1 | $PY -c 'import json,sys; j=json.load(sys.stdin); assert j["layer"]==0 and j["features"]>0' && ok || fail "bench --vindex --json"
# Browse level: queries yes, inference no.
"$LARQL" extract "$F/facts-Q8_0.gguf" -o "$TMP/b.vindex" -q --level browse --clusters 0 && ok || fail "extract browse"
expect_fail "$LARQL" logits "$TMP/b.vindex" --tokens 1,2 --json
# Corruption: one flipped byte in a copy.
cp -r "$V" "$TMP/bad.vindex"
$PY -c "
import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[4096]^=0x40; open(p,'wb').write(b)" "$TMP/bad.vindex/layers/blk.002.bin"
out=$("$LARQL" verify "$TMP/bad.vindex" 2>&1); rc=$?
[ $rc -ne 0 ] && [ $rc -lt 128 ] && echo "$out" | grep -q "blk.002.bin: checksum mismatch" && ok || fail "verify missed corruption (rc=$rc): $out"
# Errors: existing output, bad level, missing model, not a vindex.
expect_fail "$LARQL" extract "$F/facts-F32.gguf" -o "$V" -q
expect_fail "$LARQL" extract "$F/facts-F32.gguf" -o "$TMP/x.vindex" --level everything -q
expect_fail "$LARQL" extract /nonexistent.gguf -o "$TMP/y.vindex" -q
[ -e "$TMP/y.vindex" ] && fail "failed extract left output" || ok
expect_fail "$LARQL" verify "$TMP"
mkdir -p "$TMP/fake.vindex" && echo '{"format":"larql-vindex","version":7}' > "$TMP/fake.vindex/index.json"
expect_fail "$LARQL" verify "$TMP/fake.vindex"
expect_fail "$LARQL" logits "$TMP/fake.vindex" --tokens 1 --json
expect_fail "$LARQL" bench --vindex "$TMP/fake.vindex"
finish
