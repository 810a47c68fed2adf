"""The safetensors file format, written and read by hand (no `safetensors` package here).

Layout (huggingface/safetensors, README "Format" and safetensors/src/tensor.rs v0.4):
8-byte little-endian unsigned header length N; N bytes of JSON
{"__metadata__": {...}, name: {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}
padded with spaces to a multiple of 8 bytes; then the raw little-endian tensor bytes, offsets
relative to the end of the header. As the Rust writer does, tensors are laid out sorted by dtype
(descending, in the order of its Dtype enum) and then by name, with no gaps.
"""
import json
import struct

import numpy as np
import torch

# safetensors Dtype enum order (src/tensor.rs); the writer sorts by it, descending.
_DTYPE_ORDER = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "I32",
                "U32", "F32", "F64", "I64", "U64"]
_TORCH_TO_ST = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
                torch.int64: "I64", torch.int32: "I32", torch.float64: "F64", torch.uint8: "U8"}
_ST_TO_TORCH = {v: k for k, v in _TORCH_TO_ST.items()}


def _raw_bytes(t):
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().astype("<i2").tobytes()
    return t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()


def save_file(tensors, path, metadata=None):
    """Writes {name: tensor} as safetensors; returns the total number of tensor data bytes."""
    names = sorted(tensors, key=lambda n: (-_DTYPE_ORDER.index(_TORCH_TO_ST[tensors[n].dtype]), n))
    header = {"__metadata__": metadata if metadata is not None else {"format": "pt"}}
    blobs, offset = [], 0
    for n in names:
        t = tensors[n]
        b = _raw_bytes(t)
        header[n] = {"dtype": _TORCH_TO_ST[t.dtype], "shape": list(t.shape),
                     "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    return offset


def load_file(path):
    """Reads a safetensors file into {name: tensor}; checks the offsets tile the data exactly."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    body = data[8 + n:]
    header.pop("__metadata__", None)
    out, spans = {}, []
    for name, info in header.items():
        b, e = info["data_offsets"]
        spans.append((b, e))
        dt = _ST_TO_TORCH[info["dtype"]]
        raw = body[b:e]
        if dt == torch.bfloat16:
            t = torch.from_numpy(np.frombuffer(raw, dtype="<i2").copy()).view(torch.bfloat16)
        else:
            npdt = torch.empty(0, dtype=dt).numpy().dtype.newbyteorder("<")
            t = torch.from_numpy(np.frombuffer(raw, dtype=npdt).copy())
        out[name] = t.reshape(info["shape"])
    spans.sort()
    pos = 0
    for b, e in spans:
        assert b == pos, "gap or overlap at %d in %s" % (b, path)
        pos = e
    assert pos == len(body), "trailing bytes in %s" % path
    return out
