#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Independent safetensors reader and writer for tests/nn/test_checkpoint.cpp, written by hand
# from the format description with only numpy and the standard library (no safetensors
# package, no flowtape code). Both sides agree on the fixture content below.
#
#   safetensors_numpy.py read FILE    exit 0 if FILE holds exactly the fixture
#   safetensors_numpy.py write FILE   write the fixture to FILE
import json
import struct
import sys

import numpy as np

DTYPES = {"F32": "<f4", "F64": "<f8"}


def fixture():
    # Same formulas as fixture_tensors() in test_checkpoint.cpp (exact in IEEE doubles).
    a = ((np.arange(6, dtype=np.float64) - 2.5) / 3.0).astype(np.float32).reshape(2, 3)
    b = np.array([1.0 / 3.0, -2.0e-300, 1.0e300, np.pi], dtype=np.float64)
    s = np.array(7.25, dtype=np.float64)  # a rank-0 tensor
    e = np.zeros((0, 3), dtype=np.float32)  # an empty one
    return {"layer.weight": a, "layer.bias": b, "scale": s, "empty": e}, {"step": "7", "note": "numpy"}


def read(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    data = raw[8 + n:]
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dt = np.dtype(DTYPES[info["dtype"]])
        count = int(np.prod(info["shape"], dtype=np.int64))
        assert end - begin == count * dt.itemsize, name
        tensors[name] = np.frombuffer(data[begin:end], dtype=dt).reshape(info["shape"])
    return tensors, meta


def write(path):
    tensors, meta = fixture()
    # Data laid out in the reverse of the header's order, to exercise the offsets.
    header, blobs, offset = {"__metadata__": meta}, [], 0
    for name in reversed(list(tensors)):
        arr = tensors[name]
        blob = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": "F32" if arr.dtype == np.float32 else "F64",
                        "shape": list(arr.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main():
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "write":
        write(path)
        return 0
    got, meta = read(path)
    want, want_meta = fixture()
    ok = set(got) == set(want) and all(
        got[k].dtype == want[k].dtype and got[k].shape == want[k].shape and
        np.array_equal(got[k], want[k]) for k in want)
    ok = ok and all(meta.get(k) == v for k, v in want_meta.items())
    if not ok:
        print("mismatch:", {k: (v.dtype, v.shape, v.tolist()) for k, v in got.items()}, meta)
        return 1
    print("numpy reader: all", len(want), "tensors and the metadata match")
    return 0


if __name__ == "__main__":
    sys.exit(main())
