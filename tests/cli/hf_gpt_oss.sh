#!/usr/bin/env bash
# gpt-oss from Hugging Face safetensors (transformers' GptOss layout: fused gate_up experts,
# MXFP4 *_blocks/*_scales or de-quantized gate_up_proj/down_proj, sinks, router bias).
# Synth gpt-oss GGUF -> `larql compile --format safetensors` -> folder, then:
#  1. larql logits on the folder == larql logits on the GGUF, bit for bit;
#  2. hf_gpt_oss_ref.py reads the folder on its own (transformers' conventions, no LARQL code)
#     and its float64 numpy forward equals the numpy forward of the GGUF (1e-9): the folder
#     really is the HF layout of the same weights;
#  3. larql logits on the folder vs that HF-read numpy reference, 1e-3 (like numpy-ref-*);
#  4. the reference misreading the layout (nibble order, gate/up order) fails 2, so it can fail;
#  5. broken folders (missing scales, wrong shapes/dtypes, unsupported config) give clear errors.
source "$(dirname "$0")/lib.sh" "$@"
REF=$(cd "$(dirname "$0")" && pwd)/hf_gpt_oss_ref.py
TOL=${LARQL_PARITY_TOL:-1e-3}
if ! "$PY" -c 'import numpy' 2>/dev/null; then
  echo "SKIPPED: numpy not available for $PY (Debian: apt install python3-numpy)"; exit 77
fi

ids() { local n=$1 s=1 i; for ((i = 1; i < n; i++)); do s="$s,$(( (i * 37 + 11) % 509 + 3 ))"; done; echo "$s"; }
P20=$(ids 20)
P150=$(ids 150)

# case NAME PROMPT EXPECT(blocks|dense) SYNTH-ARGS...
case_() {
  local name=$1 prompt=$2 expect=$3; shift 3
  local g=$TMP/$name.gguf d=$TMP/$name out
  "$LARQL" synth --arch gpt-oss "$@" -o "$g" -q >/dev/null || { fail "$name: synth $*"; return; }
  "$LARQL" compile "$g" -o "$d" --format safetensors -q >/dev/null 2>"$TMP/err" || { fail "$name: compile: $(cat "$TMP/err")"; return; }
  if "$PY" - "$d/model.safetensors" "$expect" <<'EOF'
import json, struct, sys
b = open(sys.argv[1], "rb").read(); h = json.loads(b[8:8 + struct.unpack("<Q", b[:8])[0]])
k = "model.layers.0.mlp.experts.gate_up_proj"
ok = (h[k + "_blocks"]["dtype"] == "U8" and h[k + "_scales"]["dtype"] == "U8") if sys.argv[2] == "blocks" else k in h
sys.exit(0 if ok and "model.layers.0.self_attn.sinks" in h and "model.layers.0.mlp.router.bias" in h else 1)
EOF
  then ok; else fail "$name: folder lacks the expected HF gpt-oss tensors ($expect)"; fi
  "$LARQL" logits "$g" --tokens "$prompt" --out "$TMP/$name.gguf.f32" >/dev/null 2>"$TMP/err" || { fail "$name: logits gguf: $(cat "$TMP/err")"; return; }
  "$LARQL" logits "$d" --tokens "$prompt" --out "$TMP/$name.hf.f32" >/dev/null 2>"$TMP/err" || { fail "$name: logits folder: $(cat "$TMP/err")"; return; }
  if cmp -s "$TMP/$name.gguf.f32" "$TMP/$name.hf.f32"; then ok; echo "ok   $name: folder logits bit-identical to the GGUF"
  else fail "$name: folder logits differ from the GGUF's"; fi
  if out=$("$PY" "$REF" "$d" --tokens "$prompt" --vs-gguf "$g" --tol 1e-9 2>&1); then ok; echo "ok   $name: numpy(HF folder) vs numpy(GGUF): $out"
  else fail "$name: HF-read reference differs from the GGUF's: $out"; fi
  if out=$("$PY" "$REF" "$d" --tokens "$prompt" --compare "$TMP/$name.hf.f32" --tol "$TOL" 2>&1); then ok; echo "ok   $name: larql(folder) vs numpy(HF folder): $out"
  else fail "$name: larql on the folder vs the HF-read reference: $out"; fi
  local brks="gate-up"; [ "$expect" = blocks ] && brks="nibbles gate-up"
  for brk in $brks; do
    if out=$("$PY" "$REF" "$d" --tokens "$prompt" --vs-gguf "$g" --tol 1e-3 --misread "$brk" 2>&1); then
      fail "$name: reader misreading '$brk' still matches (the check cannot fail): $out"
    else ok; echo "     (misread $brk: $(echo "$out" | head -1))"; fi
  done
}

case_ hf-gpt-oss-mxfp4-20 "$P20" blocks --type f32
case_ hf-gpt-oss-f32experts-L4-150 "$P150" dense --type f32 --preset tiny-f32-experts --layers 4

# BF16 folder, as openai/gpt-oss ships (float tensors BF16, experts MXFP4). LARQL, like ggml, rounds
# the activations of BF16 products to BF16, so against float64 only a loose bound holds (measured
# 5.2e-2); a layout error moves logits by > 3 (misread figures above), so 0.25 still separates them.
"$LARQL" compile "$TMP/hf-gpt-oss-mxfp4-20.gguf" -o "$TMP/bf16" --format safetensors --dtype bf16 -q >/dev/null 2>&1 \
  && "$LARQL" logits "$TMP/bf16" --tokens "$P20" --out "$TMP/bf16.f32" >/dev/null 2>"$TMP/err" \
  || fail "bf16 folder: $(cat "$TMP/err")"
if out=$("$PY" "$REF" "$TMP/bf16" --tokens "$P20" --compare "$TMP/bf16.f32" --tol 0.25 2>&1); then ok; echo "ok   hf-gpt-oss-bf16-20: larql(folder) vs numpy(HF folder): $out"
else fail "hf-gpt-oss-bf16-20: $out"; fi

# Broken folders: copy the MXFP4 folder, edit one thing, expect a clear error naming it.
BASE=$TMP/hf-gpt-oss-mxfp4-20
# bad NAME GREP PYTHON-EDIT (edit gets h: header dict, t: {name: bytes}, c: config)
bad() {
  local name=$1 want=$2 edit=$3 d=$TMP/bad-$1 err
  rm -rf "$d"; cp -r "$BASE" "$d"
  "$PY" - "$d" "$edit" <<'EOF' || { fail "$name: could not edit"; return; }
import json, struct, sys, os
d, edit = sys.argv[1], sys.argv[2]
p = os.path.join(d, "model.safetensors"); b = open(p, "rb").read()
n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n]); h.pop("__metadata__", None)
t = {k: b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]] for k, v in h.items()}
c = json.load(open(os.path.join(d, "config.json")))
exec(edit)
hdr, off, data = {}, 0, b""
for k in sorted(t):
    hdr[k] = {"dtype": h[k]["dtype"], "shape": h[k]["shape"], "data_offsets": [off, off + len(t[k])]}; off += len(t[k]); data += t[k]
j = json.dumps(hdr).encode(); j += b" " * (-len(j) % 8)
open(p, "wb").write(struct.pack("<Q", len(j)) + j + data)
json.dump(c, open(os.path.join(d, "config.json"), "w"))
EOF
  err=$("$LARQL" logits "$d" --tokens 1,2,3 --out "$TMP/x.f32" 2>&1 >/dev/null); local rc=$?
  if [ $rc -eq 0 ] || [ $rc -ge 128 ]; then fail "$name: expected an error, rc=$rc"; return; fi
  if echo "$err" | grep -q -- "$want"; then ok; echo "ok   $name: $err"; else fail "$name: error does not name '$want': $err"; fi
}
X=model.layers.1.mlp.experts.
bad missing-scales "gate_up_proj_scales" "del t['${X}gate_up_proj_scales']"
bad missing-blocks "down_proj_scales" "del t['${X}down_proj_blocks']"
bad scales-shape "gate_up_proj_scales' have shape" "h['${X}gate_up_proj_scales']['shape'][2] //= 2; t['${X}gate_up_proj_scales'] = t['${X}gate_up_proj_scales'][:len(t['${X}gate_up_proj_scales'])//2]"
bad blocks-dtype "expected U8" "h['${X}down_proj_blocks']['dtype'] = 'I8'"
bad odd-gate-up "must be even" "s = h['${X}gate_up_proj_blocks']['shape']; s[1] -= 1; t['${X}gate_up_proj_blocks'] = t['${X}gate_up_proj_blocks'][:s[0]*s[1]*s[2]*16]; s2 = h['${X}gate_up_proj_scales']['shape']; s2[1] -= 1; t['${X}gate_up_proj_scales'] = t['${X}gate_up_proj_scales'][:s2[0]*s2[1]*s2[2]]"
bad expert-count "experts of config.json" "c['num_local_experts'] = 4"
bad sinks-missing "self_attn.sinks" "del t['model.layers.0.self_attn.sinks']"
bad layer-types "layer_types\[0\]" "c['layer_types'] = ['full_attention', 'sliding_attention']"
bad swiglu "swiglu_limit" "c['swiglu_limit'] = 10.0"
bad both-forms "both hold the same experts" "import numpy as np; E,R,G,_ = h['${X}down_proj_blocks']['shape']; h['${X}down_proj'] = {'dtype': 'F32', 'shape': [E, G*32, R]}; t['${X}down_proj'] = bytes(E*G*32*R*4)"
finish
