#!/usr/bin/env python3
"""Generates gguf_py_vectors.bin: random GGML blocks and their dequantized
values as computed by gguf-py's numpy reference (gguf/quants.py).

Used by tests/unit/tensor/quants_gguf_py_test.cpp to cross-check our decoders
against an independent implementation, for the types the fixture models lack.

Run (llama.cpp snapshot c392e50, gguf-py 0.15.0, numpy 1.24):
  PYTHONPATH=/work/peers/llama.cpp/gguf-py /usr/bin/python3 gen_gguf_py_vectors.py

File format (little-endian): b"LQTV", u32 version=1, u32 record count, then per
record: u32 GGML type id, u32 element count n, u32 byte count m, m bytes of
blocks, n float32 expected values.
"""
import struct
import sys
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import quants

rng = np.random.default_rng(20250220)

# type -> (blocks, offsets of fp16 fields inside one block)
SPECS = {
    T.Q4_0: (8, [0]),
    T.Q4_1: (8, [0, 2]),
    T.Q5_0: (8, [0]),
    T.Q5_1: (8, [0, 2]),
    T.Q8_0: (8, [0]),
    T.Q2_K: (4, [80, 82]),
    T.Q3_K: (4, [108]),
    T.Q4_K: (4, [0, 2]),
    T.Q5_K: (4, [0, 2]),
    T.Q6_K: (4, [208]),
}


def finite_halves(count):
    """Random fp16 scales: mostly N(0, 0.01), plus zero, negative, subnormal."""
    v = rng.normal(0.0, 0.01, count).astype(np.float16)
    special = np.array([0.0, -0.03125, 3.0e-6, 1.5], dtype=np.float16)  # 3e-6 is subnormal
    v[: min(count, len(special))] = special[: min(count, len(special))]
    rng.shuffle(v)
    return v


def record(qtype, raw):
    expected = quants.dequantize(raw, qtype).astype(np.float32).reshape(-1)
    return struct.pack("<III", int(qtype), expected.size, raw.size) + raw.tobytes() + expected.tobytes()


def main():
    out = []
    for qtype, (nblocks, half_offsets) in SPECS.items():
        block_size, type_size = quants.GGML_QUANT_SIZES[qtype]
        raw = rng.integers(0, 256, size=(nblocks, type_size), dtype=np.uint8)
        for off in half_offsets:
            raw[:, off:off + 2] = finite_halves(nblocks).view(np.uint8).reshape(nblocks, 2)
        out.append(record(qtype, raw.reshape(-1)))
    # F16 / BF16: random bit patterns that are finite numbers (subnormals included).
    h = rng.integers(0, 1 << 16, size=4096, dtype=np.uint16)
    h = h[(h & 0x7C00) != 0x7C00][:1024]
    out.append(struct.pack("<III", int(T.F16), h.size, 2 * h.size) + h.tobytes() +
               h.view(np.float16).astype(np.float32).tobytes())
    b = rng.integers(0, 1 << 16, size=4096, dtype=np.uint16)
    b = b[(b & 0x7F80) != 0x7F80][:1024]
    out.append(record(T.BF16, b.view(np.uint8)))
    data = b"LQTV" + struct.pack("<II", 1, len(out)) + b"".join(out)
    Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).with_name("gguf_py_vectors.bin")).write_bytes(data)


if __name__ == "__main__":
    main()
