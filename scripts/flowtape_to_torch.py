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
    v = model(x, t, c)  # a conditional model: c a LongTensor [B] of classes (-1: none) or a
                        # float [B, k] of context vectors (a row of NaN: none)

A model trained with --standardize works in standardised coordinates, as flowtape's sampler
does: integrate from N(0, I) with it, then map the result back to the data's units with
model.to_data(x) (x * scale + mean; model.standardization holds both, None without).

From the command line:

    python3 scripts/flowtape_to_torch.py MODEL              # print the rebuilt module
    python3 scripts/flowtape_to_torch.py MODEL --check REF  # compare with flowtape's velocities

REF is a CSV with a header, columns x0..x{d-1}, t, then for a conditional model c (the class)
or c0..c{k-1} (the context), then v0..v{d-1}: points, times (conditions) and the velocity
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
    return tensors, json.loads(metadata["architecture"]), metadata


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
    condition = arch.get("condition", {"kind": "none"})
    if condition["kind"] == "labels":
        code_dim = arch["parameters"]["condition_embedding.weight"][1]
    elif condition["kind"] == "context":
        code_dim = condition["dim"] + 1
    else:
        code_dim = 0
    film = arch.get("conditioning") == "film"
    if arch.get("conditioning", "concat") not in ("concat", "film"):
        raise ValueError(f"unsupported conditioning {arch['conditioning']!r}")

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
            widths = [d + arch["time_embedding_dim"] + (0 if film else code_dim)] + [h] * depth + [d]
            self.layers = nn.ModuleList(
                nn.Linear(widths[i], widths[i + 1]) for i in range(depth + 1))
            self.act = activations[arch["activation"]]()

        def forward(self, z, modulation=None):
            h = arch["hidden"]
            for i, layer in enumerate(self.layers[:-1]):
                z = self.act(layer(z))
                if modulation is not None:  # FiLM: h (1 + gamma_i) + beta_i
                    gamma = modulation[:, 2 * i * h:(2 * i + 1) * h]
                    beta = modulation[:, (2 * i + 1) * h:(2 * i + 2) * h]
                    z = z * (1 + gamma) + beta
            return self.layers[-1](z)

    class VelocityMLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = Net()
            if kind != "raw":
                self.time_embedding = TimeEmbedding()
            if condition["kind"] == "labels":
                self.condition_embedding = nn.Embedding(condition["classes"] + 1, code_dim)
            if film:
                self.film = nn.Linear(code_dim, 2 * arch["hidden"] * arch["depth"])
            self.input_dim = arch["input_dim"]
            self.condition = condition

        def code(self, c, batch):
            """The condition's code e(c); the null condition is label -1 or a row of NaN."""
            if c is None:
                raise ValueError("this model is conditional: call it as model(x, t, c)")
            if self.condition["kind"] == "labels":
                c = torch.as_tensor(c, dtype=torch.long).reshape(batch)
                c = torch.where(c < 0, torch.full_like(c, self.condition["classes"]), c)
                return self.condition_embedding(c)
            c = torch.as_tensor(c, dtype=torch.float32).reshape(batch, -1)
            present = ~torch.isnan(c[:, :1])
            return torch.cat([torch.where(present, c, torch.zeros_like(c)), present.float()], 1)

        def forward(self, x, t, c=None):
            t = torch.as_tensor(t, dtype=x.dtype).reshape(-1, 1).expand(x.shape[0], 1)
            emb = t if kind == "raw" else self.time_embedding(t)
            if self.condition["kind"] == "none":
                return self.net(torch.cat([x, emb], dim=1))
            e = self.code(c, x.shape[0])
            if film:
                return self.net(torch.cat([x, emb], dim=1), self.film(e))
            return self.net(torch.cat([x, emb, e], dim=1))

    return VelocityMLP()


def load_velocity_model(path):
    """The trained velocity field of a flowtape checkpoint as a torch.nn.Module (eval mode)."""
    import torch
    tensors, arch, metadata = read_checkpoint(path)
    model = build_velocity_mlp(arch)
    # --standardize: the mean and scale the model's coordinates are taken in.
    model.standardization = None
    if "standardization" in metadata:
        st = json.loads(metadata["standardization"])
        mean = torch.tensor(st["mean"], dtype=torch.float32)
        scale = torch.tensor(st["scale"], dtype=torch.float32)
        if mean.shape != (model.input_dim,) or scale.shape != (model.input_dim,):
            raise ValueError(f"{path}: the standardization's mean and scale are not "
                             f"{model.input_dim} values each")
        model.standardization = {"mean": mean, "scale": scale}
    model.to_data = lambda x: (x if model.standardization is None else
                               x * model.standardization["scale"].to(x.dtype)
                               + model.standardization["mean"].to(x.dtype))
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
    data = torch.tensor(values, dtype=torch.float64)
    cols = {p: [i for i, name in enumerate(header) if name.startswith(p)] for p in "xtcv"}
    d = model.input_dim
    if len(cols["x"]) != d or len(cols["v"]) != d or len(cols["t"]) != 1:
        raise ValueError(f"{reference_csv}: expected columns x0..x{d - 1}, t, [c...], "
                         f"v0..v{d - 1}, got {header}")
    x, t, v = data[:, cols["x"]].float(), data[:, cols["t"]].float(), data[:, cols["v"]]
    c = None
    if cols["c"]:
        c = data[:, cols["c"]]
        c = c[:, 0].long() if model.condition["kind"] == "labels" else c.float()
    with torch.no_grad():
        got = model(x, t, c).double()
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
            if model.standardization is not None:
                print("standardised coordinates (--standardize): data = x * scale + mean, "
                      f"mean {model.standardization['mean'].tolist()}, "
                      f"scale {model.standardization['scale'].tolist()}")
            return 0
        return 0 if check(model, args.check, args.tolerance) else 1
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        print(f"flowtape_to_torch: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
