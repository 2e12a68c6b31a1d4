#!/usr/bin/python3
"""Independent float64 numpy forward pass over a GGUF model (test reference for LARQL's engine).

    numpy_forward.py MODEL.gguf --tokens 1,2,3 --out logits.f32
    numpy_forward.py MODEL.gguf --tokens 1,2,3 --compare other.f32 [--tol 1e-3]
    numpy_forward.py --compare-files a.f32 b.f32 --n-vocab 512 [--tol 1e-3]

Computes the logits of every position of one causal pass over the token ids, in
float64, from the dequantized weights. Output: raw float32 little-endian,
row-major [n_tokens, n_vocab] (the format of the llama.cpp reference fixtures and
of `larql logits --out`).

Families: llama (incl. mixtral-style MoE), qwen2, qwen3, qwen2moe, qwen3moe,
gemma2, gemma3, phi3, gpt2, gpt-oss (sinks, YaRN, clamped SwiGLU, MXFP4 experts), deepseek2 (MLA with per-head K/V expanded from the
latent, as in the Hugging Face reference; sigmoid/softmax routing, selection
bias, group-limited routing, routed scaling factor, shared experts). Per-family details and the llama.cpp/ik_llama.cpp
graph semantics they follow are listed in tests/reference/README.md.

Only numpy is needed (Debian's python3-numpy); gguf_reader.py is a
self-contained GGUF parser/dequantizer.
"""
import argparse
import math
import os
import sys

import numpy as np

sys.dont_write_bytecode = True  # keep the source tree clean of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gguf_reader import GGUFFile  # noqa: E402

SUPPORTED = ("llama", "qwen2", "qwen3", "qwen2moe", "qwen3moe", "gemma2", "gemma3", "phi3", "gpt2", "deepseek2",
             "gpt-oss")


# --- elementwise ops -------------------------------------------------------
def rms_norm(x, w, eps):
    y = x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps)
    return y * w if w is not None else y


def layer_norm(x, w, b, eps):
    mu = np.mean(x, axis=-1, keepdims=True)
    xc = x - mu
    y = xc / np.sqrt(np.mean(xc * xc, axis=-1, keepdims=True) + eps)
    if w is not None:
        y = y * w
    if b is not None:
        y = y + b
    return y


def silu(x):
    return x / (1.0 + np.exp(-x))


def gelu_tanh(x):
    # GELU, tanh approximation (ggml_gelu, HF "gelu_pytorch_tanh" / "gelu_new")
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def gelu_ggml_fp16(x):
    # Emulates ggml's CPU GELU (GGML_GELU_FP16): input rounded to fp16, table value
    # rounded to fp16; exact passthrough for x >= 10, zero for x <= -10.
    xh = x.astype(np.float16).astype(np.float64)
    y = gelu_tanh(xh).astype(np.float16).astype(np.float64)
    y = np.where(x >= 10.0, x, y)
    return np.where(x <= -10.0, 0.0, y)


def swiglu_oai(g, u, alpha=1.702, limit=7.0):
    """gpt-oss expert activation: gate capped at limit, up clamped to [-limit, limit] and shifted by one."""
    g = np.minimum(g, limit)
    return g / (1.0 + np.exp(-alpha * g)) * (np.clip(u, -limit, limit) + 1.0)


def q8_0_roundtrip(x):
    """x as ggml's Q8_0 activation blocks see it (rows of a multiple of 32): d = amax/127 kept
    as fp16, q = round(x / d) half away from zero. Emulates the int8 activations that
    quantized-weight products use (applied here to MXFP4 expert products)."""
    b = x.reshape(-1, 32)
    d = np.max(np.abs(b), axis=-1, keepdims=True) / 127.0
    inv = np.divide(1.0, d, out=np.zeros_like(d), where=d > 0)
    y = b * inv
    q = np.sign(y) * np.floor(np.abs(y) + 0.5)
    return (f16_round(d) * q).reshape(x.shape)


def softmax(x, axis=-1):
    m = np.max(x, axis=axis, keepdims=True)
    e = np.exp(x - m)
    return e / np.sum(e, axis=axis, keepdims=True)


def f16_round(x):
    return x.astype(np.float16).astype(np.float64)


def yarn_params(n_rot, base, factor, orig_ctx, beta_fast=32.0, beta_slow=1.0):
    """(low, high, mscale) of YaRN as ggml applies it: correction dims floored/ceiled
    (HF's truncate=True; gpt-oss's own config says truncate=false, a sub-dim shift of the
    ramp that llama.cpp does not model either), cos/sin scaled by 1 + 0.1 ln(factor)."""
    def dim(rot):
        return n_rot * math.log(orig_ctx / (rot * 2 * math.pi)) / (2 * math.log(base))
    low = max(0.0, math.floor(dim(beta_fast)))
    high = min(n_rot - 1.0, math.ceil(dim(beta_slow)))
    return low, high, 1.0 + 0.1 * math.log(factor)


def rope(x, pos, n_rot, base, mode, freq_scale=1.0, freq_factors=None, yarn=None):
    """x: [T, H, D]. theta_i = pos * freq_scale * base^(-2i/n_rot) / factor_i for i < n_rot/2.
    yarn=(low, high, mscale): pair i keeps r_i = 1 - clip((i-low)/(high-low)) of its
    unscaled angle (extrapolation) and 1 - r_i of the interpolated one; cos/sin times mscale.

    mode "norm": rotates adjacent pairs (x[2i], x[2i+1]);
    mode "neox": rotates (x[i], x[i + n_rot/2]). Dims >= n_rot pass through."""
    half = n_rot // 2
    inv = base ** (-np.arange(half, dtype=np.float64) * 2.0 / n_rot)
    if freq_factors is not None:
        inv = inv / freq_factors[:half]
    mult, msc = np.full(half, freq_scale), 1.0
    if yarn is not None:
        low, high, msc = yarn
        r = 1.0 - np.clip((np.arange(half) - low) / max(0.001, high - low), 0.0, 1.0)
        mult = freq_scale * (1.0 - r) + r
    ang = np.asarray(pos, np.float64)[:, None] * (inv * mult)[None, :]  # [T, half]
    cos, sin = msc * np.cos(ang)[:, None, :], msc * np.sin(ang)[:, None, :]
    out = x.copy()
    if mode == "norm":
        a, b = x[..., 0:n_rot:2], x[..., 1:n_rot:2]
        out[..., 0:n_rot:2] = a * cos - b * sin
        out[..., 1:n_rot:2] = a * sin + b * cos
    elif mode == "neox":
        a, b = x[..., :half], x[..., half:n_rot]
        out[..., :half] = a * cos - b * sin
        out[..., half:n_rot] = a * sin + b * cos
    else:
        raise ValueError(mode)
    return out


# --- model -------------------------------------------------------------------
class Model:
    def __init__(self, path, gelu="exact", kv_f16=False, act_q8=True):
        self.f = GGUFFile(path)
        self.act_q8 = act_q8
        self.gelu = gelu_ggml_fp16 if gelu == "ggml" else gelu_tanh
        self.kv_f16 = kv_f16
        md = self.f.metadata
        arch = md.get("general.architecture")
        if arch not in SUPPORTED:
            raise SystemExit(f"numpy_forward: architecture '{arch}' not supported (have: {', '.join(SUPPORTED)})")
        self.arch = arch
        a = arch + "."

        def geti(k, d=None):
            v = md.get(a + k, d)
            if isinstance(v, np.ndarray):  # per-layer arrays: this reference needs uniform layers
                if len(set(v.tolist())) != 1:
                    raise SystemExit(f"numpy_forward: per-layer '{a + k}' not supported")
                v = int(v[0])
            return None if v is None else int(v)

        self.n_embd = geti("embedding_length")
        self.n_layer = geti("block_count")
        self.n_head = geti("attention.head_count")
        self.n_head_kv = geti("attention.head_count_kv", self.n_head)
        self.head_dim_k = geti("attention.key_length", self.n_embd // self.n_head)
        self.head_dim_v = geti("attention.value_length", self.head_dim_k)
        self.n_rot = geti("rope.dimension_count", self.head_dim_k)
        self.rope_base = float(md.get(a + "rope.freq_base", 10000.0))
        # epsilons are stored as float32 in GGUF; ggml uses that float32 value
        if a + "attention.layer_norm_epsilon" in md:
            self.eps = float(md[a + "attention.layer_norm_epsilon"])
        else:
            self.eps = float(md.get(a + "attention.layer_norm_rms_epsilon", 1e-5))
        self.n_swa = geti("attention.sliding_window", 0) or 0
        self.attn_softcap = float(md.get(a + "attn_logit_softcapping", 0.0) or 0.0)
        self.final_softcap = float(md.get(a + "final_logit_softcapping", 0.0) or 0.0)
        self.n_expert = geti("expert_count", 0) or 0
        self.n_expert_used = geti("expert_used_count", 0) or 0
        # DeepSeek routing (GGUF keys; llama.cpp semantics)
        self.n_dense_lead = geti("leading_dense_block_count", 0) or 0
        self.gating = geti("expert_gating_func", 0) or 1          # 1 softmax, 2 sigmoid
        self.w_norm = bool(md.get(a + "expert_weights_norm", False))
        self.w_scale = float(md.get(a + "expert_weights_scale", 1.0) or 1.0)
        self.n_groups = geti("expert_group_count", 0) or 0
        self.n_groups_used = geti("expert_group_used_count", 0) or 0
        self.kv_lora = geti("attention.kv_lora_rank", 0) or 0

        scaling = md.get(a + "rope.scaling.type", "none") or "none"
        factor = float(md.get(a + "rope.scaling.factor", 1.0) or 1.0)
        self.freq_scale = 1.0
        self.yarn = None
        if scaling == "linear" and factor:
            self.freq_scale = 1.0 / factor
        elif scaling == "yarn" and arch != "deepseek2" and factor:
            self.freq_scale = 1.0 / factor
            orig = geti("rope.scaling.original_context_length", 0) or geti("context_length")
            self.yarn = yarn_params(self.n_rot, self.rope_base, factor, orig)
        elif scaling not in ("none", "") and factor != 1.0:
            raise SystemExit(f"numpy_forward: rope scaling '{scaling}' not supported")
        for t in ("rope_factors_long.weight", "rope_factors_short.weight"):
            if self.f.has(t):
                raise SystemExit("numpy_forward: phi3 LongRoPE factors not supported")
        self.freq_factors = self.t("rope_freqs.weight") if self.f.has("rope_freqs.weight") else None

        self.rope_mode = {"llama": "norm", "deepseek2": "norm", "gpt2": None}.get(arch, "neox")
        # Attention scale (applied to q.k before soft-capping): attention.scale if given;
        # gemma 27B sizes use 1/sqrt(n_embd/n_head) (query_pre_attn_scalar), else 1/sqrt(head_dim_k).
        if a + "attention.scale" in md:
            self.kq_scale = float(md[a + "attention.scale"])
        elif (arch == "gemma2" and self.n_layer == 46) or (arch == "gemma3" and self.n_layer == 62):
            self.kq_scale = 1.0 / math.sqrt(self.n_embd // self.n_head)
        else:
            self.kq_scale = 1.0 / math.sqrt(self.head_dim_k)
        self._cache = {}

    # tensor access (float64, numpy shape = GGUF dims reversed), cached
    def t(self, name):
        if name not in self._cache:
            self._cache[name] = self.f.tensor(name)
        return self._cache[name]

    def opt(self, name):
        return self.t(name) if self.f.has(name) else None

    def lin(self, x, name, bias=True):
        y = x @ self.t(name + ".weight").T
        b = self.opt(name + ".bias") if bias else None
        return y + b if b is not None else y

    def norm(self, x, name):
        w = self.opt(name + ".weight")
        if self.arch == "gpt2":
            return layer_norm(x, w, self.opt(name + ".bias"), self.eps)
        y = rms_norm(x, w, self.eps)
        b = self.opt(name + ".bias")
        return y + b if b is not None else y

    # --- layer pieces ---
    def layer_window(self, il):
        """(sliding window or 0, rope base, rope freq_scale) for layer il."""
        if self.arch == "gemma2":
            return (self.n_swa if il % 2 == 0 else 0), self.rope_base, self.freq_scale
        if self.arch == "gemma3":
            if (il + 1) % 6 != 0:
                return self.n_swa, 10000.0, 1.0
            return 0, self.rope_base, self.freq_scale
        if self.arch == "phi3":
            return self.n_swa, self.rope_base, self.freq_scale
        if self.arch == "gpt-oss":  # even layers slide, odd layers see everything
            return (self.n_swa if il % 2 == 0 else 0), self.rope_base, self.freq_scale
        return 0, self.rope_base, self.freq_scale

    def attention_mla(self, x, il, pos):
        """DeepSeek MLA, unabsorbed: K_nope/V per head from the normed latent."""
        T = x.shape[0]
        p = f"blk.{il}."
        H, Dk, Dv, Dr, R = self.n_head, self.head_dim_k, self.head_dim_v, self.n_rot, self.kv_lora
        nope = Dk - Dr
        if self.f.has(p + "attn_q_a.weight"):
            q = self.lin(rms_norm(self.lin(x, p + "attn_q_a"), self.t(p + "attn_q_a_norm.weight"), self.eps), p + "attn_q_b")
        else:
            q = self.lin(x, p + "attn_q")
        q = q.reshape(T, H, Dk)
        kva = self.lin(x, p + "attn_kv_a_mqa")
        c = rms_norm(kva[:, :R], self.t(p + "attn_kv_a_norm.weight"), self.eps)
        k_pe = rope(kva[:, None, R:], pos, Dr, self.rope_base, "norm", self.freq_scale)      # [T, 1, Dr]
        q_pe = rope(q[:, :, nope:].copy(), pos, Dr, self.rope_base, "norm", self.freq_scale)  # [T, H, Dr]
        kv = self.lin(c, p + "attn_kv_b").reshape(T, H, nope + Dv)
        k = np.concatenate([kv[:, :, :nope], np.repeat(k_pe, H, axis=1)], axis=-1)
        qq = np.concatenate([q[:, :, :nope], q_pe], axis=-1)
        v = kv[:, :, nope:]
        s = np.einsum("qhd,khd->hqk", qq, k) * self.kq_scale
        masked = np.asarray(pos)[None, :] > np.asarray(pos)[:, None]
        s = np.where(masked[None], -np.inf, s)
        o = np.einsum("hqk,khd->qhd", softmax(s, axis=-1), v).reshape(T, H * Dv)
        return self.lin(o, p + "attn_output")

    def attention(self, x, il, pos):
        if self.arch == "deepseek2":
            return self.attention_mla(x, il, pos)
        T = x.shape[0]
        p = f"blk.{il}."
        Hq, Hk, Dk, Dv = self.n_head, self.n_head_kv, self.head_dim_k, self.head_dim_v
        if self.f.has(p + "attn_qkv.weight"):
            qkv = self.lin(x, p + "attn_qkv")
            q = qkv[:, :Hq * Dk]
            k = qkv[:, Hq * Dk:Hq * Dk + Hk * Dk]
            v = qkv[:, Hq * Dk + Hk * Dk:]
        else:
            q, k, v = self.lin(x, p + "attn_q"), self.lin(x, p + "attn_k"), self.lin(x, p + "attn_v")
        q = q.reshape(T, Hq, Dk)
        k = k.reshape(T, Hk, Dk)
        v = v.reshape(T, Hk, Dv)
        if self.f.has(p + "attn_q_norm.weight"):  # per-head RMSNorm over head_dim, before rope
            q = rms_norm(q, self.t(p + "attn_q_norm.weight"), self.eps)
            k = rms_norm(k, self.t(p + "attn_k_norm.weight"), self.eps)
        window, base, fscale = self.layer_window(il)
        if self.rope_mode:
            q = rope(q, pos, self.n_rot, base, self.rope_mode, fscale, self.freq_factors, self.yarn)
            k = rope(k, pos, self.n_rot, base, self.rope_mode, fscale, self.freq_factors, self.yarn)
        if self.kv_f16:  # emulate an f16 KV cache (ggml also rounds q and the probabilities)
            q, k, v = f16_round(q), f16_round(k), f16_round(v)
        g = Hq // Hk
        kk = np.repeat(k, g, axis=1)  # query head h uses kv head h // g
        vv = np.repeat(v, g, axis=1)
        s = np.einsum("qhd,khd->hqk", q, kk) * self.kq_scale
        if self.attn_softcap:
            s = np.tanh(s / self.attn_softcap) * self.attn_softcap
        pq = np.asarray(pos)[:, None]
        pk = np.asarray(pos)[None, :]
        masked = pk > pq
        if window:
            masked |= (pq - pk) >= window
        s = np.where(masked[None], -np.inf, s)
        sinks = self.opt(p + "attn_sinks.weight")
        if sinks is not None:  # gpt-oss: a per-head logit in the denominator, with no value
            m = np.maximum(np.max(s, axis=-1, keepdims=True), sinks[:, None, None])
            e = np.exp(s - m)
            a = e / (np.sum(e, axis=-1, keepdims=True) + np.exp(sinks[:, None, None] - m))
        else:
            a = softmax(s, axis=-1)
        if self.kv_f16:
            a = f16_round(a)
        o = np.einsum("hqk,khd->qhd", a, vv).reshape(T, Hq * Dv)
        return self.lin(o, p + "attn_output")

    def dense_ffn(self, x, il):
        p = f"blk.{il}."
        if self.arch == "gpt2":
            return self.lin(self.gelu(self.lin(x, p + "ffn_up")), p + "ffn_down")
        up = self.lin(x, p + "ffn_up")
        if self.f.has(p + "ffn_gate.weight"):
            gate = self.lin(x, p + "ffn_gate")
        else:  # phi3: fused ffn_up, first half is the gate
            n = up.shape[-1] // 2
            gate, up = up[:, :n], up[:, n:]
        act = self.gelu if self.arch in ("gemma2", "gemma3") else silu
        return self.lin(act(gate) * up, p + "ffn_down")

    def moe_ffn_oss(self, x, il):
        """gpt-oss: top-k of the biased router logits, softmax over the k chosen; experts with
        biases and the clamped SwiGLU. MXFP4 experts see Q8_0-rounded inputs (ggml's int8 path)."""
        p = f"blk.{il}."
        logits = self.lin(x, p + "ffn_gate_inp")
        sel = np.argsort(-logits, axis=-1, kind="stable")[:, :self.n_expert_used]
        w = softmax(np.take_along_axis(logits, sel, axis=-1), axis=-1)
        W = {n: self.t(p + f"ffn_{n}_exps.weight") for n in ("gate", "up", "down")}
        B = {n: self.t(p + f"ffn_{n}_exps.bias") for n in ("gate", "up", "down")}
        q8 = {n: self.f.tensors[p + f"ffn_{n}_exps.weight"].type_name == "MXFP4" and self.act_q8 for n in W}
        rnd = {n: (q8_0_roundtrip if q8[n] else (lambda v: v)) for n in W}
        out = np.zeros_like(x)
        for t in range(x.shape[0]):
            xg, xu = rnd["gate"](x[t]), rnd["up"](x[t])
            for j in range(self.n_expert_used):
                e = sel[t, j]
                h = swiglu_oai(W["gate"][e] @ xg + B["gate"][e], W["up"][e] @ xu + B["up"][e])
                out[t] += w[t, j] * (W["down"][e] @ rnd["down"](h) + B["down"][e])
        return out

    def moe_ffn(self, x, il):
        if self.arch == "gpt-oss":
            return self.moe_ffn_oss(x, il)
        p = f"blk.{il}."
        logits = x @ self.t(p + "ffn_gate_inp.weight").T          # [T, n_expert]
        ds = self.arch == "deepseek2"
        probs = 1.0 / (1.0 + np.exp(-logits)) if ds and self.gating == 2 else softmax(logits, axis=-1)
        scores = probs.copy()
        if self.f.has(p + "exp_probs_b.bias"):                     # V3: bias only for selection
            scores = scores + self.t(p + "exp_probs_b.bias")
        if ds and self.n_groups > 1 and self.n_groups_used < self.n_groups:
            g = scores.reshape(scores.shape[0], self.n_groups, -1)
            top = -np.sort(-g, axis=-1)
            gs = top[:, :, 0] + top[:, :, 1] if self.gating == 2 else top[:, :, 0]  # V3: best two, V2: best
            keep = np.argsort(-gs, axis=-1, kind="stable")[:, :self.n_groups_used]
            mask = np.ones_like(gs, dtype=bool)
            np.put_along_axis(mask, keep, False, axis=-1)
            scores = np.where(np.repeat(mask, g.shape[2], axis=-1), -np.inf, scores)
        # top-k by score, ties -> lower expert id
        sel = np.argsort(-scores, axis=-1, kind="stable")[:, :self.n_expert_used]
        w = np.take_along_axis(probs, sel, axis=-1)
        if self.arch in ("llama", "qwen3moe") or (ds and self.w_norm):  # renormalise the k weights
            w = w / np.sum(w, axis=-1, keepdims=True)
        if ds:
            w = w * self.w_scale
        Wg, Wu, Wd = self.t(p + "ffn_gate_exps.weight"), self.t(p + "ffn_up_exps.weight"), self.t(p + "ffn_down_exps.weight")
        out = np.zeros_like(x)
        for t in range(x.shape[0]):
            for j in range(self.n_expert_used):
                e = sel[t, j]
                h = silu(Wg[e] @ x[t]) * (Wu[e] @ x[t])
                out[t] += w[t, j] * (Wd[e] @ h)
        if self.f.has(p + "ffn_up_shexp.weight"):                  # shared expert (qwen2moe: gated)
            h = silu(self.lin(x, p + "ffn_gate_shexp")) * self.lin(x, p + "ffn_up_shexp")
            sh = self.lin(h, p + "ffn_down_shexp")
            gate_w = self.opt(p + "ffn_gate_inp_shexp.weight")
            if gate_w is not None:
                sh = sh * (1.0 / (1.0 + np.exp(-(x @ gate_w.reshape(-1)))))[:, None]
            out = out + sh
        return out

    def forward(self, tokens):
        tokens = np.asarray(tokens, dtype=np.int64)
        T = len(tokens)
        pos = np.arange(T)
        emb = self.t("token_embd.weight")
        if tokens.min() < 0 or tokens.max() >= emb.shape[0]:
            raise SystemExit(f"numpy_forward: token id out of range [0, {emb.shape[0]})")
        x = emb[tokens].copy()
        if self.arch in ("gemma2", "gemma3"):
            x = x * math.sqrt(self.n_embd)
        if self.arch == "gpt2":
            x = x + self.t("position_embd.weight")[pos]
        gemma = self.arch in ("gemma2", "gemma3")
        for il in range(self.n_layer):
            p = f"blk.{il}."
            h = self.attention(self.norm(x, p + "attn_norm"), il, pos)
            if gemma:
                h = self.norm(h, p + "post_attention_norm")
            x = x + h
            hn = self.norm(x, p + ("post_attention_norm" if self.arch == "gpt-oss" else "ffn_norm"))
            h = self.moe_ffn(hn, il) if self.f.has(p + "ffn_gate_inp.weight") else self.dense_ffn(hn, il)
            if gemma:
                h = self.norm(h, p + "post_ffw_norm")
            x = x + h
        x = self.norm(x, "output_norm")
        out_w = self.opt("output.weight")
        logits = x @ (out_w if out_w is not None else emb).T
        b = self.opt("output.bias")
        if b is not None:
            logits = logits + b
        if self.final_softcap:
            logits = np.tanh(logits / self.final_softcap) * self.final_softcap
        return logits


# --- comparison ------------------------------------------------------------
def compare(ref, other, tol=None, out=sys.stdout):
    """Prints max |diff| and argmax agreement of `other` against `ref` ([T, V] arrays).

    Returns True when max|diff| <= tol (if given) and the argmax agrees at every
    position whose reference top1-top2 margin exceeds 2*tol (a closer pair is a
    near-tie that an engine within tol may legitimately flip; such flips are listed)."""
    if ref.shape != other.shape:
        print(f"shape mismatch: {ref.shape} vs {other.shape}", file=out)
        return False
    d = np.abs(ref.astype(np.float64) - other.astype(np.float64))
    maxd = float(d.max()) if d.size else 0.0
    worst = np.unravel_index(np.argmax(d), d.shape) if d.size else (0, 0)
    am_r, am_o = np.argmax(ref, axis=-1), np.argmax(other, axis=-1)
    srt = np.sort(ref, axis=-1)
    margin = srt[:, -1] - srt[:, -2] if ref.shape[1] > 1 else np.full(ref.shape[0], np.inf)
    mism = np.nonzero(am_r != am_o)[0]
    tie_limit = 2 * tol if tol is not None else 0.0
    real = [int(i) for i in mism if margin[i] > tie_limit]
    print(f"max|diff|={maxd:.3e} at (pos {worst[0]}, id {worst[1]}); argmax agree {len(am_r) - len(mism)}/{len(am_r)}; "
          f"min ref margin {float(margin.min()):.2e}", file=out)
    for n, i in enumerate(mism):
        if n == 10:
            print(f"  ... {len(mism) - 10} more argmax differences", file=out)
            break
        kind = "MISMATCH" if i in real else "near-tie"
        print(f"  {kind} pos {i}: ref argmax {am_r[i]} other {am_o[i]} ref margin {margin[i]:.2e}", file=out)
    if tol is None:
        return True
    ok = maxd <= tol and not real
    if maxd > tol:
        print(f"  max|diff| {maxd:.3e} exceeds tolerance {tol:.1e}", file=out)
    return ok


def load_logits(path, n_vocab):
    a = np.fromfile(path, dtype="<f4")
    if a.size % n_vocab:
        raise SystemExit(f"numpy_forward: {path}: {a.size} floats is not a multiple of n_vocab {n_vocab}")
    return a.reshape(-1, n_vocab)


def parse_tokens(s):
    return [int(t) for t in s.replace(",", " ").split()]


def _verdict(ok, path, tol):
    if not ok:
        print(f"numpy_forward: {path} does not match the reference within {tol:g}", file=sys.stderr)
    return 0 if ok else 1


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", nargs="?", help="GGUF model file")
    ap.add_argument("--tokens", help="token ids, comma- or space-separated")
    ap.add_argument("--out", help="write float32-le logits [n_tokens, n_vocab]")
    ap.add_argument("--compare", help="logits file to compare against this reference")
    ap.add_argument("--compare-files", nargs=2, metavar=("REF", "OTHER"), help="compare two logits files")
    ap.add_argument("--n-vocab", type=int, help="vocab size for --compare-files")
    ap.add_argument("--tol", type=float, help="with --compare: exit 1 if max|diff| > tol or argmax differs")
    ap.add_argument("--gelu", choices=("exact", "ggml"), default="exact",
                    help="exact tanh GELU (default) or ggml's fp16-table GELU")
    ap.add_argument("--kv-f16", action="store_true", help="round q/k/v and attention probs to fp16 (f16 KV cache)")
    ap.add_argument("--no-act-q8", action="store_true",
                    help="exact float64 inputs to MXFP4 expert products (default: Q8_0-rounded, as ggml's int8 path)")
    args = ap.parse_args(argv)

    if args.compare_files:
        if not args.n_vocab:
            ap.error("--compare-files needs --n-vocab")
        a, b = (load_logits(p, args.n_vocab) for p in args.compare_files)
        return _verdict(compare(a, b, args.tol), args.compare_files[1], args.tol)
    if not args.model or args.tokens is None:
        ap.error("MODEL and --tokens are required")
    toks = parse_tokens(args.tokens)
    if not toks:
        ap.error("--tokens is empty")
    m = Model(args.model, gelu=args.gelu, kv_f16=args.kv_f16, act_q8=not args.no_act_q8)
    logits = m.forward(toks)
    if args.out:
        logits.astype("<f4").tofile(args.out)
    if args.compare:
        other = load_logits(args.compare, logits.shape[1])
        return _verdict(compare(logits.astype(np.float32), other, args.tol), args.compare, args.tol)
    if not args.out:
        am = np.argmax(logits, axis=-1)
        print("argmax per position:", " ".join(map(str, am.tolist())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
