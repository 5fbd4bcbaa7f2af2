"""LPIPS, protocol ``lpips-alex-v0.1`` (v1): the ``lpips`` package's network (AlexNet backbone,
v0.1 linear layers from the lpips wheel; ``eadbench.nets.lpips``), frames scaled to [-1, 1],
per frame, averaged over the clip."""

from __future__ import annotations

import numpy as np
import torch

from eadbench.metrics._frames import paired
from eadbench.metrics.base import LOWER, Column, MetricProtocol, TorchMetric, register_metric
from eadbench.metrics.evaluators import FrameMeanEvaluator
from eadbench.nets.lpips import lpips_alex

PROTOCOL = MetricProtocol("lpips-alex-v0.1", "1", None, (("net", "alex"), ("version", "0.1"), ("range", "[-1, 1]")),
                          "lpips 0.1.4, AlexNet backbone, v0.1 linear layers")


def lpips_frames(fake, real, net: torch.nn.Module, batch: int = 16) -> torch.Tensor:
    f, r = paired(fake, real)
    device = next(net.parameters()).device
    out = []
    with torch.inference_mode():
        for i in range(0, len(f), batch):
            x = (torch.from_numpy(np.ascontiguousarray(f[i:i + batch])).permute(0, 3, 1, 2).float() / 127.5 - 1)
            y = (torch.from_numpy(np.ascontiguousarray(r[i:i + batch])).permute(0, 3, 1, 2).float() / 127.5 - 1)
            x, y = x.to(device), y.to(device)
            out.append(net(x, y).flatten().cpu())
    return torch.cat(out)


def lpips(fake, real, store=None) -> float:
    """Functional twin: mean LPIPS over frame pairs."""
    return float(lpips_frames(fake, real, lpips_alex(store)).mean())


@register_metric(
    name="lpips", direction=LOWER, level="clip", outputs=("lpips",), needs=("real",), weights=("alexnet",),
    protocols=(PROTOCOL,),
    description="learned perceptual distance to the real frames (lpips 0.1.4, AlexNet)",
    functional=lpips, order=30, columns=(Column("lpips", "LPIPS", 4),),
    torchmetric=TorchMetric("LPIPS", "update(fake, real)", nets=lambda store, protocol: lpips_alex(store),
                            frame_values=lambda net, fake, real: lpips_frames(fake, real, net)),
)
class LPIPSEvaluator(FrameMeanEvaluator):
    def __init__(self, ctx):
        super().__init__(ctx)
        self.store.verified("alexnet")  # a missing or mismatching file: unavailable at once

    def frame_values(self, fake, real):
        return lpips_frames(fake, real, lpips_alex(self.store))
