#!/usr/bin/python3
"""Float64 numpy reference for a Hugging Face gpt-oss folder (config.json + safetensors).

    hf_gpt_oss_ref.py DIR --tokens 1,2,3 --compare logits.f32 [--tol 1e-3] [--no-act-q8]
    hf_gpt_oss_ref.py DIR --tokens 1,2,3 --vs-gguf MODEL.gguf [--tol 1e-9]

The folder is read here, on its own, with the conventions of transformers' GptOss
classes and its MXFP4 integration (convert_moe_packed_tensors): *_blocks uint8
[E, rows, in/32, 16] with element 2k in the low nibble of byte k and 2k+1 in the
high one, *_scales uint8 E8M0 (2^(s-127)); de-quantized gate_up_proj [E, in, 2F] and
down_proj [E, F, in] used as x @ W; gate/up interleaved along 2F (even = gate). None
of LARQL's C++ loader or writer is involved. The weights are then handed, under their
GGUF names, to tests/reference/numpy_forward.py's float64 model (its gpt-oss forward).

--vs-gguf runs the same numpy model on a GGUF file (ggml's MXFP4 layout, decoded by
gguf_reader.py) and compares the two: a folder written from that GGUF must agree.
"""
import argparse
import json
import os
import struct
import sys

import numpy as np

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import numpy_forward as npf  # noqa: E402
from gguf_reader import GGUFFile  # noqa: E402

MISREAD = None  # self-test: deliberately wrong readings ("nibbles", "gate-up") must fail the comparison
FP4 = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0])


def read_safetensors(path):
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8:8 + n])
    out = {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        b, e = h["data_offsets"]
        raw = np.frombuffer(buf[8 + n + b:8 + n + e], dtype=np.uint8)
        dt, shape = h["dtype"], tuple(h["shape"])
        if dt == "F32":
            a = raw.view("<f4").astype(np.float64)
        elif dt == "F16":
            a = raw.view("<f2").astype(np.float64)
        elif dt == "BF16":
            a = (raw.view("<u2").astype(np.uint32) << 16).view("<f4").astype(np.float64)
        elif dt == "U8":
            a = raw.copy()
        else:
            raise SystemExit(f"hf_gpt_oss_ref: '{name}' has dtype {dt}")
        out[name] = (dt, a.reshape(shape))
    return out


def mxfp4(blocks, scales):
    """[E, R, G, 16] codes + [E, R, G] exponents -> float64 [E, R, G*32] (rows = outputs)."""
    v = np.empty(blocks.shape[:-1] + (32,))
    lo, hi = (blocks >> 4, blocks & 0x0F) if MISREAD == "nibbles" else (blocks & 0x0F, blocks >> 4)
    v[..., 0::2] = FP4[lo]
    v[..., 1::2] = FP4[hi]
    v *= np.exp2(scales.astype(np.float64) - 127.0)[..., None]
    return v.reshape(blocks.shape[0], blocks.shape[1], -1)


class Info:
    def __init__(self, type_name):
        self.type_name = type_name


class HFGptOss:
    """Enough of gguf_reader.GGUFFile's interface for numpy_forward.Model."""

    def __init__(self, path):
        with open(os.path.join(path, "config.json")) as f:
            c = json.load(f)
        if c.get("model_type") != "gpt_oss":
            raise SystemExit("hf_gpt_oss_ref: not a gpt_oss config")
        files = sorted(x for x in os.listdir(path) if x.endswith(".safetensors"))
        st = {}
        for x in files:
            st.update(read_safetensors(os.path.join(path, x)))
        H, nh = c["hidden_size"], c["num_attention_heads"]
        rs = c.get("rope_scaling") or {}
        a = "gpt-oss."
        self.metadata = {
            "general.architecture": "gpt-oss", a + "embedding_length": H, a + "block_count": c["num_hidden_layers"],
            a + "context_length": c.get("max_position_embeddings", 131072),
            a + "attention.head_count": nh, a + "attention.head_count_kv": c["num_key_value_heads"],
            a + "attention.key_length": c["head_dim"], a + "attention.value_length": c["head_dim"],
            a + "rope.dimension_count": c["head_dim"], a + "rope.freq_base": c["rope_theta"],
            a + "attention.layer_norm_rms_epsilon": c["rms_norm_eps"],
            a + "attention.sliding_window": c["sliding_window"],
            a + "expert_count": c["num_local_experts"], a + "expert_used_count": c["num_experts_per_tok"],
        }
        if rs.get("rope_type", rs.get("type")) == "yarn":
            self.metadata.update({a + "rope.scaling.type": "yarn", a + "rope.scaling.factor": rs["factor"],
                                  a + "rope.scaling.original_context_length": rs["original_max_position_embeddings"]})
        lt = c.get("layer_types")
        if lt and lt != ["sliding_attention" if i % 2 == 0 else "full_attention" for i in range(len(lt))]:
            raise SystemExit("hf_gpt_oss_ref: numpy_forward slides on even layers only")
        self._t, self.tensors = {}, {}

        def put(name, value, type_name="F32"):
            self._t[name] = value
            self.tensors[name] = Info(type_name)

        def take(name):
            return st.pop(name)[1]

        put("token_embd.weight", take("model.embed_tokens.weight"))
        put("output_norm.weight", take("model.norm.weight"))
        put("output.weight", take("lm_head.weight") if "lm_head.weight" in st else self._t["token_embd.weight"])
        plain = {"input_layernorm.weight": "attn_norm.weight", "post_attention_layernorm.weight": "post_attention_norm.weight",
                 "self_attn.sinks": "attn_sinks.weight", "mlp.router.weight": "ffn_gate_inp.weight",
                 "mlp.router.bias": "ffn_gate_inp.bias", "mlp.experts.down_proj_bias": "ffn_down_exps.bias"}
        for x, g in (("q", "attn_q"), ("k", "attn_k"), ("v", "attn_v"), ("o", "attn_output")):
            plain[f"self_attn.{x}_proj.weight"] = g + ".weight"
            plain[f"self_attn.{x}_proj.bias"] = g + ".bias"
        for il in range(c["num_hidden_layers"]):
            L, p = f"model.layers.{il}.", f"blk.{il}."
            for h, g in plain.items():
                put(p + g, take(L + h))
            X = L + "mlp.experts."
            for proj in ("gate_up_proj", "down_proj"):
                if X + proj + "_blocks" in st:
                    w, tn = mxfp4(take(X + proj + "_blocks"), take(X + proj + "_scales")), "MXFP4"
                else:
                    w, tn = np.swapaxes(take(X + proj), 1, 2), "F32"  # [E, in, out] -> [E, out, in]
                if proj == "down_proj":
                    put(p + "ffn_down_exps.weight", w, tn)
                else:
                    g, u = (1, 0) if MISREAD == "gate-up" else (0, 1)
                    put(p + "ffn_gate_exps.weight", w[:, g::2, :], tn)
                    put(p + "ffn_up_exps.weight", w[:, u::2, :], tn)
            b = take(X + "gate_up_proj_bias")
            put(p + "ffn_gate_exps.bias", b[:, 0::2])
            put(p + "ffn_up_exps.bias", b[:, 1::2])
        if st:
            raise SystemExit("hf_gpt_oss_ref: tensors not understood: " + ", ".join(sorted(st)))

    def has(self, name):
        return name in self._t

    def tensor(self, name):
        return np.asarray(self._t[name], dtype=np.float64)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folder")
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--compare", help="logits file (float32 [n_tokens, n_vocab]) to check against")
    ap.add_argument("--vs-gguf", help="compare with the numpy reference run on this GGUF")
    ap.add_argument("--tol", type=float)
    ap.add_argument("--no-act-q8", action="store_true")
    ap.add_argument("--misread", choices=("nibbles", "gate-up"), help="self-test: read the layout wrongly")
    args = ap.parse_args()
    global MISREAD
    MISREAD = args.misread
    toks = npf.parse_tokens(args.tokens)
    npf.GGUFFile = HFGptOss  # numpy_forward.Model opens its model through this name
    ref = npf.Model(args.folder, act_q8=not args.no_act_q8).forward(toks)
    if args.vs_gguf:
        npf.GGUFFile = GGUFFile
        other = npf.Model(args.vs_gguf, act_q8=not args.no_act_q8).forward(toks)
    else:
        other = npf.load_logits(args.compare, ref.shape[1])
        ref = ref.astype(np.float32)
    ok = npf.compare(ref, other, args.tol)
    return 0 if ok or args.tol is None else 1


if __name__ == "__main__":
    sys.exit(main())
