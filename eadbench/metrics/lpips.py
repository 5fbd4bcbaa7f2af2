"""LPIPS, protocol ``lpips-alex-v0.1``: the ``lpips`` package's network (AlexNet backbone,
v0.1 linear layers from the lpips wheel), frames scaled to [-1, 1], per frame, averaged over the
clip. The AlexNet backbone (torchvision's ``alexnet-owt-7be5be79.pth``) is located through
eadbench's weight store and loaded into the lpips network, so nothing is downloaded and a
missing file is one clear message."""

from __future__ import annotations

import threading
from functools import cached_property

import numpy as np
import torch

from eadbench.metrics._frames import paired
from eadbench.metrics.base import LOWER, ClipInput, Evaluator, FrameMean, register_metric, torchmetrics_classes
from eadbench.weights import file_sha256, load_state_dict, verified

_LOCK = threading.Lock()
_NETS: dict[str, torch.nn.Module] = {}


def lpips_net(weights_dir: str | None = None) -> torch.nn.Module:
    loc = verified("alexnet", weights_dir)
    with _LOCK:
        if str(loc.path) not in _NETS:
            import lpips

            alex = load_state_dict("alexnet", weights_dir)
            net = lpips.LPIPS(net="alex", pretrained=True, pnet_rand=True, verbose=False)
            # lpips slices torchvision's alexnet.features into slice1..5, keeping layer indices
            own = net.net.state_dict()
            mapped = {k: alex["features." + k.split(".", 1)[1]] for k in own}
            net.net.load_state_dict(mapped)
            _NETS[str(loc.path)] = net.eval()
        return _NETS[str(loc.path)]


def lpips_frames(fake, real, net: torch.nn.Module, batch: int = 16) -> torch.Tensor:
    f, r = paired(fake, real)
    out = []
    with torch.inference_mode():
        for i in range(0, len(f), batch):
            x = f[i:i + batch].float() / 127.5 - 1
            y = r[i:i + batch].float() / 127.5 - 1
            out.append(net(x, y).flatten())
    return torch.cat(out)


def lpips_distance(fake, real, weights_dir: str | None = None) -> float:
    return float(lpips_frames(fake, real, lpips_net(weights_dir)).mean())


class _LPIPS(FrameMean):
    """Mean per-frame LPIPS over every frame pair seen."""

    higher_is_better = False

    def __init__(self, weights_dir: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.net = lpips_net(weights_dir)

    def frame_values(self, fake, real) -> torch.Tensor:
        return lpips_frames(np.asarray(fake), np.asarray(real), self.net)


@register_metric(
    name="lpips", direction=LOWER, level="clip", outputs=("lpips",), needs=("real",), weights=("alexnet",),
    protocol="lpips-alex-v0.1", protocol_version="1", face=False, crop_protocol=None,
    description="learned perceptual distance to the real frames (lpips 0.1.4, AlexNet)",
)
class LPIPSEvaluator(Evaluator):
    def __init__(self, ctx):
        super().__init__(ctx)
        self.sha = file_sha256(verified("alexnet", ctx.weights_dir).path)

    @cached_property
    def net(self):
        """Built on first use: a fully cached run never builds the network."""
        return lpips_net(self.ctx.weights_dir)

    def weights_used(self):
        return {"alexnet": self.sha}

    def clip(self, item: ClipInput) -> dict:
        return {"lpips": float(lpips_frames(item.fake, item.real, self.net).mean())}


__getattr__ = torchmetrics_classes(__name__, LPIPS=_LPIPS)
