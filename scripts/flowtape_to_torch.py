#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Load a checkpoint written by `flowtape train` (model.safetensors) into PyTorch.

The model is rebuilt from the architecture the checkpoint records in its metadata (sizes,
activation, time embedding, every parameter's and buffer's name and shape), then the weights
are loaded by name, strictly: nothing missing, nothing left over.

As a module:

    import sys; sys.path.insert(0, "scripts")
    from flowtape_to_torch import load_velocity_model
    model = load_velocity_model("runs/cb/model.safetensors")  # a torch.nn.Module, float32
    v = model(x, t)  # x [B, d], t [B, 1] or [B] -> [B, d]

From the command line:

    python3 scripts/flowtape_to_torch.py MODEL              # print the rebuilt module
    python3 scripts/flowtape_to_torch.py MODEL --check REF  # compare with flowtape's velocities

REF is a CSV with a header, columns x0..x{d-1}, t, v0..v{d-1}: points, times and the velocity
flowtape computed there. Needs torch and safetensors (pip install torch safetensors).
Exit codes: 0 success, 1 error or a mismatch, 2 bad command line, 77 torch or safetensors is
not installed (what the tests read as "skipped").
"""
import argparse
import csv
import json
import math
import sys

SKIPPED = 77


def _require_packages():
    try:
        import safetensors  # noqa: F401
        import torch  # noqa: F401
    except ImportError as e:
        print(f"flowtape_to_torch: needs torch and safetensors ({e}); "
              "pip install torch safetensors", file=sys.stderr)
        sys.exit(SKIPPED)


def read_checkpoint(path):
    """The checkpoint's tensors (name -> torch.Tensor) and its architecture (a dict)."""
    from safetensors import safe_open
    with safe_open(path, framework="pt") as f:
        metadata = f.metadata() or {}
        tensors = {name: f.get_tensor(name) for name in f.keys()}
    if "architecture" not in metadata:
        raise ValueError(f"{path}: no architecture in its metadata (not written by flowtape "
                         "train, or by a version before 0.2)")
    return tensors, json.loads(metadata["architecture"])


def build_velocity_mlp(arch):
    """An empty torch module with flowtape's VelocityMLP layout for `arch`."""
    import torch
    from torch import nn

    if arch.get("model") != "VelocityMLP":
        raise ValueError(f"unsupported model {arch.get('model')!r} (this script rebuilds "
                         "VelocityMLP)")
    activations = {
        "relu": nn.ReLU, "silu": nn.SiLU, "tanh": nn.Tanh,
        "gelu": lambda: nn.GELU(approximate="tanh"), "softplus": nn.Softplus,
    }
    if arch["activation"] not in activations:
        raise ValueError(f"unsupported activation {arch['activation']!r}")
    kind = arch["time_embedding"]
    if kind not in ("raw", "sinusoidal", "fourier"):
        raise ValueError(f"unsupported time embedding {kind!r}")

    class TimeEmbedding(nn.Module):
        def __init__(self):
            super().__init__()
            half = arch["time_embedding_dim"] // 2
            if kind == "fourier":
                self.register_buffer("freqs", torch.zeros(half))  # loaded from the file
            elif kind == "sinusoidal":
                k = torch.arange(half, dtype=torch.float64)
                self.register_buffer("freqs", torch.exp(-math.log(10000.0) * k / half).float(),
                                     persistent=False)

        def forward(self, t):
            if kind == "raw":
                return t
            scale = 2 * math.pi if kind == "fourier" else 1000.0
            arg = t * scale * self.freqs
            return torch.cat([torch.cos(arg), torch.sin(arg)], dim=1)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            d, h, depth = arch["input_dim"], arch["hidden"], arch["depth"]
            widths = [d + arch["time_embedding_dim"]] + [h] * depth + [d]
            self.layers = nn.ModuleList(
                nn.Linear(widths[i], widths[i + 1]) for i in range(depth + 1))
            self.act = activations[arch["activation"]]()

        def forward(self, z):
            for layer in self.layers[:-1]:
                z = self.act(layer(z))
            return self.layers[-1](z)

    class VelocityMLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = Net()
            if kind != "raw":
                self.time_embedding = TimeEmbedding()
            self.input_dim = arch["input_dim"]

        def forward(self, x, t):
            t = torch.as_tensor(t, dtype=x.dtype).reshape(-1, 1).expand(x.shape[0], 1)
            emb = t if kind == "raw" else self.time_embedding(t)
            return self.net(torch.cat([x, emb], dim=1))

    return VelocityMLP()


def load_velocity_model(path):
    """The trained velocity field of a flowtape checkpoint as a torch.nn.Module (eval mode)."""
    tensors, arch = read_checkpoint(path)
    model = build_velocity_mlp(arch)
    wanted = set(arch["parameters"]) | set(arch.get("buffers", {}))
    state = {name: tensors[name] for name in wanted if name in tensors}
    missing = sorted(wanted - set(state))
    if missing:
        raise ValueError(f"{path}: the architecture names tensors the file lacks: {missing}")
    # strict: every parameter and persistent buffer of the module must come from the file
    model.load_state_dict(state, strict=True)
    return model.eval()


def check(model, reference_csv, tolerance):
    """Largest |torch - flowtape| over the reference rows, relative to the largest |v|."""
    import torch
    with open(reference_csv, newline="") as f:
        rows = list(csv.reader(f))
    header, values = rows[0], [[float(c) for c in r] for r in rows[1:]]
    d = model.input_dim
    if len(header) != 2 * d + 1:
        raise ValueError(f"{reference_csv}: expected {2 * d + 1} columns (x, t, v), got "
                         f"{len(header)}")
    data = torch.tensor(values, dtype=torch.float64)
    x, t, v = data[:, :d].float(), data[:, d:d + 1].float(), data[:, d + 1:]
    with torch.no_grad():
        got = model(x, t).double()
    gap = (got - v).abs().max().item() / max(v.abs().max().item(), 1e-12)
    print(f"{reference_csv}: {len(values)} points, largest relative gap {gap:.2e} "
          f"(tolerance {tolerance:.0e})")
    return gap <= tolerance


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="model.safetensors written by flowtape train")
    parser.add_argument("--check", metavar="REF", help="CSV of x, t and flowtape's v(x, t)")
    parser.add_argument("--tolerance", type=float, default=1e-5,
                        help="largest gap relative to max |v| (float32 rounding)")
    args = parser.parse_args()  # exits 2 on a bad command line
    _require_packages()
    try:
        model = load_velocity_model(args.model)
        if args.check is None:
            print(model)
            return 0
        return 0 if check(model, args.check, args.tolerance) else 1
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        print(f"flowtape_to_torch: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
