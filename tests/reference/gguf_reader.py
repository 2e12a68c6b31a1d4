"""Minimal GGUF reader for the float64 numpy reference (no gguf-py dependency).

Reads the header, the metadata key/value table and the tensor-info table of a
GGUF v2/v3 file, and dequantizes tensors of the types below to float64 numpy
arrays. Written from the GGUF file-format description and the GGML block
layouts (ggml-common.h conventions); arrays come back in numpy order, i.e. the
GGUF dims reversed: a matrix with ne = [n_in, n_out] becomes shape (n_out, n_in).

Supported tensor types: F32, F16, BF16, F64, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1,
Q4_K, Q5_K, Q6_K, Q8_K.
"""
import mmap
import struct

import numpy as np

# GGML type id -> (name, elements per block, bytes per block)
GGML_TYPES = {
    0: ("F32", 1, 4),
    1: ("F16", 1, 2),
    2: ("Q4_0", 32, 18),
    3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24),
    8: ("Q8_0", 32, 34),
    9: ("Q8_1", 32, 36),
    10: ("Q2_K", 256, 84),
    11: ("Q3_K", 256, 110),
    12: ("Q4_K", 256, 144),
    13: ("Q5_K", 256, 176),
    14: ("Q6_K", 256, 210),
    15: ("Q8_K", 256, 292),
    24: ("I8", 1, 1),
    25: ("I16", 1, 2),
    26: ("I32", 1, 4),
    27: ("I64", 1, 8),
    28: ("F64", 1, 8),
    30: ("BF16", 1, 2),
    39: ("MXFP4", 32, 17),
}

# OCP MX E2M1 code -> value (bit 3 is the sign): 0, 0.5, 1, 1.5, 2, 3, 4, 6.
_E2M1 = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0])

# Metadata value types: id -> struct format (scalars), 8 = string, 9 = array.
_SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
           10: "<Q", 11: "<q", 12: "<d"}
_NP_SCALAR = {0: "<u1", 1: "<i1", 2: "<u2", 3: "<i2", 4: "<u4", 5: "<i4", 6: "<f4",
              7: "<u1", 10: "<u8", 11: "<i8", 12: "<f8"}


class GGUFError(Exception):
    pass


class TensorInfo:
    def __init__(self, name, ne, type_id, offset):
        self.name = name
        self.ne = ne            # GGML order: ne[0] is the innermost (contiguous) dim
        self.type_id = type_id
        self.offset = offset    # relative to the data section
        if type_id not in GGML_TYPES:
            raise GGUFError(f"tensor '{name}': unknown GGML type {type_id}")
        self.type_name, self.block, self.block_bytes = GGML_TYPES[type_id]
        n = 1
        for d in ne:
            n *= d
        self.n_elements = n
        if ne and ne[0] % self.block:
            raise GGUFError(f"tensor '{name}': ne[0]={ne[0]} not a multiple of block {self.block}")
        self.n_bytes = n // self.block * self.block_bytes

    @property
    def shape(self):
        """numpy shape (GGUF dims reversed)."""
        return tuple(reversed(self.ne))


class GGUFFile:
    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            self._mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        self._buf = memoryview(self._mm)
        self._pos = 0
        self.metadata = {}
        self.tensors = {}
        self._parse()

    # --- low-level readers -------------------------------------------------
    def _take(self, n):
        if n < 0 or self._pos + n > len(self._buf):
            raise GGUFError(f"truncated file at offset {self._pos} (need {n} bytes)")
        b = self._buf[self._pos:self._pos + n]
        self._pos += n
        return b

    def _u32(self):
        return struct.unpack("<I", self._take(4))[0]

    def _u64(self):
        return struct.unpack("<Q", self._take(8))[0]

    def _str(self):
        n = self._u64()
        return bytes(self._take(n)).decode("utf-8", errors="replace")

    def _value(self, vt):
        if vt in _SCALAR:
            fmt = _SCALAR[vt]
            return struct.unpack(fmt, self._take(struct.calcsize(fmt)))[0]
        if vt == 8:
            return self._str()
        if vt == 9:
            et = self._u32()
            n = self._u64()
            if et in _NP_SCALAR:
                dt = np.dtype(_NP_SCALAR[et])
                arr = np.frombuffer(self._take(n * dt.itemsize), dtype=dt)
                return arr.astype(bool) if et == 7 else arr
            return [self._value(et) for _ in range(n)]
        raise GGUFError(f"unknown metadata value type {vt} at offset {self._pos}")

    def _parse(self):
        if bytes(self._take(4)) != b"GGUF":
            raise GGUFError(f"{self.path}: not a GGUF file (bad magic)")
        self.version = self._u32()
        if self.version not in (2, 3):
            raise GGUFError(f"{self.path}: unsupported GGUF version {self.version}")
        n_tensors = self._u64()
        n_kv = self._u64()
        for _ in range(n_kv):
            key = self._str()
            self.metadata[key] = self._value(self._u32())
        for _ in range(n_tensors):
            name = self._str()
            n_dims = self._u32()
            if n_dims > 4:
                raise GGUFError(f"tensor '{name}': {n_dims} dims")
            ne = [self._u64() for _ in range(n_dims)]
            type_id = self._u32()
            offset = self._u64()
            self.tensors[name] = TensorInfo(name, ne, type_id, offset)
        align = int(self.metadata.get("general.alignment", 32))
        self.data_start = (self._pos + align - 1) // align * align
        for t in self.tensors.values():
            if self.data_start + t.offset + t.n_bytes > len(self._buf):
                raise GGUFError(f"tensor '{t.name}' extends past end of file")

    # --- public API --------------------------------------------------------
    def get(self, key, default=None):
        v = self.metadata.get(key, default)
        return v

    def raw(self, name):
        t = self.tensors[name]
        start = self.data_start + t.offset
        return np.frombuffer(self._buf[start:start + t.n_bytes], dtype=np.uint8)

    def tensor(self, name):
        """Dequantized tensor as float64, numpy shape (GGUF dims reversed)."""
        t = self.tensors[name]
        flat = dequantize(self.raw(name), t.type_id, t.n_elements)
        return flat.reshape(t.shape)

    def has(self, name):
        return name in self.tensors


# --- dequantization -------------------------------------------------------
def _f16(b):
    return b.copy().view("<f2").astype(np.float64)


def _scale_min_k4(sc):
    """Unpack the 12-byte scales of Q4_K/Q5_K into 8 six-bit scales and mins per block.

    Bytes 0..3 hold scales 0..3 (low 6 bits) and the top 2 bits of scales 4..7;
    bytes 4..7 the mins 0..3 and top bits of mins 4..7; bytes 8..11 the low
    nibbles of scales 4..7 (low) and mins 4..7 (high)."""
    sc = sc.astype(np.int64)
    scales = np.empty((sc.shape[0], 8), np.int64)
    mins = np.empty((sc.shape[0], 8), np.int64)
    for j in range(4):
        scales[:, j] = sc[:, j] & 63
        mins[:, j] = sc[:, j + 4] & 63
        scales[:, j + 4] = (sc[:, j + 8] & 0xF) | ((sc[:, j] >> 6) << 4)
        mins[:, j + 4] = (sc[:, j + 8] >> 4) | ((sc[:, j + 4] >> 6) << 4)
    return scales, mins


def _nibbles_32(qs):
    """16 bytes per block -> 32 values: low nibbles are elements 0..15, high nibbles 16..31."""
    return np.concatenate([qs & 0xF, qs >> 4], axis=1).astype(np.int64)


def _high_bits_32(qh_bytes):
    """4 bytes little-endian uint32 per block -> bit j for element j (0..31)."""
    qh = qh_bytes.copy().view("<u4").astype(np.int64).reshape(-1, 1)
    return (qh >> np.arange(32)) & 1


def dequantize(raw, type_id, n):
    name, bs, bb = GGML_TYPES[type_id]
    if name == "F32":
        return raw.view("<f4").astype(np.float64)
    if name == "F64":
        return raw.view("<f8").astype(np.float64)
    if name == "F16":
        return raw.view("<f2").astype(np.float64)
    if name == "BF16":
        u = raw.view("<u2").astype(np.uint32) << 16
        return u.view(np.float32).astype(np.float64)
    if name in ("I8", "I16", "I32", "I64"):
        return raw.view({"I8": "<i1", "I16": "<i2", "I32": "<i4", "I64": "<i8"}[name]).astype(np.float64)
    nb = n // bs
    b = raw.reshape(nb, bb)
    if name == "Q8_0":
        d = _f16(b[:, 0:2])
        q = b[:, 2:34].copy().view(np.int8).astype(np.float64)
        return (d * q).reshape(-1)
    if name == "Q4_0":
        d = _f16(b[:, 0:2])
        q = _nibbles_32(b[:, 2:18]) - 8
        return (d * q).reshape(-1)
    if name == "Q4_1":
        d, m = _f16(b[:, 0:2]), _f16(b[:, 2:4])
        q = _nibbles_32(b[:, 4:20])
        return (d * q + m).reshape(-1)
    if name == "Q5_0":
        d = _f16(b[:, 0:2])
        q = (_nibbles_32(b[:, 6:22]) | (_high_bits_32(b[:, 2:6]) << 4)) - 16
        return (d * q).reshape(-1)
    if name == "Q5_1":
        d, m = _f16(b[:, 0:2]), _f16(b[:, 2:4])
        q = _nibbles_32(b[:, 8:24]) | (_high_bits_32(b[:, 4:8]) << 4)
        return (d * q + m).reshape(-1)
    if name == "MXFP4":
        # E8M0 scale byte (2^(e-127); ggml does not special-case e=255) + 16 bytes of
        # E2M1 codes, element j in the low nibble of byte j, element j+16 in the high one.
        scale = np.ldexp(1.0, b[:, 0].astype(np.int64) - 127)[:, None]
        return (scale * _E2M1[_nibbles_32(b[:, 1:17])]).reshape(-1)
    if name == "Q8_K":
        d = b[:, 0:4].copy().view("<f4").astype(np.float64)
        q = b[:, 4:260].copy().view(np.int8).astype(np.float64)
        return (d * q).reshape(-1)
    if name in ("Q4_K", "Q5_K"):
        d, dmin = _f16(b[:, 0:2]), _f16(b[:, 2:4])
        scales, mins = _scale_min_k4(b[:, 4:16])
        if name == "Q4_K":
            qs, qh = b[:, 16:144].astype(np.int64), None
        else:
            qh, qs = b[:, 16:48].astype(np.int64), b[:, 48:176].astype(np.int64)
        out = np.empty((nb, 256), np.float64)
        # 4 chunks of 64 values; chunk c uses bytes qs[32c:32c+32]: low nibbles are
        # sub-block 2c, high nibbles sub-block 2c+1. Q5_K: bit 2c / 2c+1 of qh[l] is the 5th bit.
        for c in range(4):
            q = qs[:, 32 * c:32 * c + 32]
            lo, hi = q & 0xF, q >> 4
            if qh is not None:
                lo = lo | (((qh >> (2 * c)) & 1) << 4)
                hi = hi | (((qh >> (2 * c + 1)) & 1) << 4)
            for k, v in ((2 * c, lo), (2 * c + 1, hi)):
                out[:, 32 * k:32 * k + 32] = (d * scales[:, k:k + 1]) * v - dmin * mins[:, k:k + 1]
        return out.reshape(-1)
    if name == "Q6_K":
        ql = b[:, 0:128].astype(np.int64)
        qh = b[:, 128:192].astype(np.int64)
        sc = b[:, 192:208].copy().view(np.int8).astype(np.float64)
        d = _f16(b[:, 208:210])
        out = np.empty((nb, 256), np.float64)
        # 2 halves of 128 values; each uses 64 ql bytes and 32 qh bytes.
        for h in range(2):
            L = ql[:, 64 * h:64 * h + 64]
            H = qh[:, 32 * h:32 * h + 32]
            parts = [
                (L[:, 0:32] & 0xF) | (((H >> 0) & 3) << 4),
                (L[:, 32:64] & 0xF) | (((H >> 2) & 3) << 4),
                (L[:, 0:32] >> 4) | (((H >> 4) & 3) << 4),
                (L[:, 32:64] >> 4) | (((H >> 6) & 3) << 4),
            ]
            for p, q in enumerate(parts):
                base = 128 * h + 32 * p
                # 16 values share one int8 scale
                for s in range(2):
                    out[:, base + 16 * s:base + 16 * s + 16] = (
                        d * sc[:, 8 * h + 2 * p + s:8 * h + 2 * p + s + 1] * (q[:, 16 * s:16 * s + 16] - 32))
        return out.reshape(-1)
    raise GGUFError(f"dequantization of {name} is not implemented")
