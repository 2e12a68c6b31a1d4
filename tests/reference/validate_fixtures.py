#!/usr/bin/python3
"""Checks numpy_forward.py against the llama.cpp / ik_llama.cpp reference logits in the fixtures.

    validate_fixtures.py [SHARED_DIR] [--gelu exact|ggml] [--kv-f16 auto|on|off] [--models a,b]

For every F32 fixture model of a supported family, runs every prompt of its
reference index.json and prints max |diff| and argmax agreement per prompt and
the worst per model. Exits 1 if a model exceeds its expected bound (below), so
the reference itself is tested against independent data.
"""
import argparse
import json
import os
import sys

import numpy as np

sys.dont_write_bytecode = True  # keep the source tree clean of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy_forward as nf  # noqa: E402

# Bounds for the default settings (exact GELU, f32 KV): measured worst plus margin.
# gpt2/gemma3 include ggml's fp16 GELU table; qwen3/gemma3 references used an f16 KV cache.
BOUNDS = {
    "tiny-llama-gqa-F32": 1e-5, "tiny-qwen2-F32": 1e-5, "tiny-mixtral-8x2-F32": 1e-5,
    "tiny-qwen2moe-4x2-F32": 1e-5, "tiny-phi3-F32": 1e-5, "tiny-gpt2-F32": 1e-3,
    "tiny-qwen3-F32": 1e-3, "tiny-gemma3-F32": 1.5e-3, "facts-F32": 1e-4, "tiny-deepseek2-mla-F32": 1e-5,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("shared", nargs="?", default=os.path.join(os.path.dirname(__file__), "../../../shared"))
    ap.add_argument("--gelu", choices=("exact", "ggml"), default="exact")
    ap.add_argument("--kv-f16", choices=("auto", "on", "off"), default="off",
                    help="auto: emulate the f16 KV cache where the reference used one")
    ap.add_argument("--models", help="comma-separated reference stems (default: all F32 of supported families)")
    args = ap.parse_args()
    ref_root = os.path.join(args.shared, "fixtures", "reference")
    if not os.path.isdir(ref_root):
        print(f"SKIPPED: no fixtures at {ref_root}")
        return 77
    stems = args.models.split(",") if args.models else sorted(
        d for d in os.listdir(ref_root) if d.endswith("-F32") and os.path.isdir(os.path.join(ref_root, d)))
    bad = 0
    for stem in stems:
        d = os.path.join(ref_root, stem)
        j = json.load(open(os.path.join(d, "index.json")))
        arch = j["general.architecture"]
        if arch not in nf.SUPPORTED:
            print(f"{stem:24s} skipped ({arch} not supported)")
            continue
        sub = "facts" if stem.startswith("facts") else "synthetic"
        model_path = os.path.join(args.shared, "fixtures", "models", sub, j["model_file"])
        kv = j["settings"].get("type_k", "f32")
        kv_f16 = args.kv_f16 == "on" or (args.kv_f16 == "auto" and kv == "f16")
        m = nf.Model(model_path, gelu=args.gelu, kv_f16=kv_f16)
        worst, agree, total = 0.0, 0, 0
        for p in j["prompts"]:
            ref = np.fromfile(os.path.join(d, p["logits_file"]), dtype="<f4").reshape(p["logits_shape"])
            mine = m.forward(p["tokens"])
            worst = max(worst, float(np.max(np.abs(mine - ref))))
            agree += int(np.sum(np.argmax(mine, -1) == np.argmax(ref, -1)))
            total += ref.shape[0]
        bound = BOUNDS.get(stem)
        verdict = ""
        if bound is not None and args.gelu == "exact" and args.kv_f16 == "off":
            verdict = "ok" if worst <= bound else f"EXCEEDS {bound:g}"
            bad += worst > bound
        print(f"{stem:24s} {arch:9s} ref {j['producer']['engine']:12s} kv {kv:3s} prompts {len(j['prompts']):2d} "
              f"max|diff| {worst:.2e}  argmax {agree}/{total} {verdict}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
