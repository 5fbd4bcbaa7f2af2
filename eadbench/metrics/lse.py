"""LSE-C / LSE-D, protocol ``syncnet-v2`` (v1): syncnet_python's evaluation, as Wav2Lip's LRS
scripts run it.

Face crops (protocol ``syncnet``: scale 0.4, 224x224), BGR, raw 0-255; audio 16 kHz mono as
int16 sample values; MFCC 13 @ 100 Hz. Usable length L = min(frames, floor(samples / 640));
windows start at 0 .. L-6 (syncnet_python iterates ``range(0, L - 5)``); video window i pairs
with MFCC frames [4i, 4i + 20). Offsets -15..+15: audio features zero-padded by 15 at both
ends, for every window i the distances ``pairwise_distance`` (eps 1e-6) to audio windows
i .. i+30, averaged over windows into 31 mean distances. LSE-D = their minimum,
LSE-C = median - minimum, AV offset = 15 - argmin (positive: audio leads the video).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from eadbench.errors import MetricInputError
from eadbench.metrics.base import HIGHER, LOWER, ClipInput, Evaluator, register_metric, torchmetrics_classes
from eadbench.metrics.mfcc import mfcc
from eadbench.metrics.syncnet import load_syncnet
from eadbench.weights import file_sha256, verified

VSHIFT = 15
SAMPLES_PER_FRAME = 640


def lse_features(net, crops: np.ndarray, audio: np.ndarray, sr: int = 16000,
                 batch: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """(lip features, audio features), one row per window."""
    if sr != 16000:
        raise MetricInputError(f"LSE needs 16 kHz audio, got {sr} Hz")
    if audio is None or len(audio) == 0:
        raise MetricInputError("LSE needs audio: the clip has none")
    crops = np.asarray(crops)
    length = min(len(crops), len(audio) // SAMPLES_PER_FRAME)
    n_win = length - 5
    if n_win < 1:
        raise MetricInputError(f"too short for LSE: {length} usable frames (need at least 6 frames of video and audio)")
    pcm = np.clip(np.round(np.asarray(audio, dtype=np.float64) * 32768), -32768, 32767)
    cc = torch.from_numpy(mfcc(pcm, sr).T.astype(np.float32))  # (13, n)
    lips = net.prepare_lips(crops[: n_win + 4])
    with torch.inference_mode():
        lip = net.lip_sequence(lips)
        blocks = torch.stack([cc[:, 4 * i:4 * i + 20] for i in range(n_win)])[:, None]
        aud = torch.cat([net.forward_aud(blocks[i:i + batch]) for i in range(0, n_win, batch)])
    return lip, aud


def lse_from_features(lip: torch.Tensor, aud: torch.Tensor, vshift: int = VSHIFT) -> dict[str, float]:
    win = 2 * vshift + 1
    audp = F.pad(aud, (0, 0, vshift, vshift))
    idx = torch.arange(len(lip))[:, None] + torch.arange(win)[None, :]
    dists = torch.linalg.vector_norm(lip[:, None, :] - audp[idx] + 1e-6, dim=2)  # pairwise_distance, eps 1e-6
    mdist = dists.mean(0)
    minval, minidx = torch.min(mdist, 0)
    return {"lse_c": float(torch.median(mdist) - minval), "lse_d": float(minval),
            "av_offset": float(vshift - int(minidx))}


def lse(crops: np.ndarray, audio: np.ndarray, weights_dir: str | None = None, syncnet_path: str | None = None) -> dict:
    """Functional twin: LSE-C, LSE-D and AV offset of one clip."""
    return lse_from_features(*lse_features(load_syncnet(weights_dir, syncnet_path), crops, audio))


class _LSE:
    """Mean LSE-C and LSE-D over clips (sum states, distributed-safe)."""

    higher_is_better = True  # of LSE-C, the first output
    full_state_update = False

    def __init__(self, weights_dir: str | None = None, syncnet_path: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.net = load_syncnet(weights_dir, syncnet_path)
        for s in ("sum_c", "sum_d"):
            self.add_state(s, default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, crops: np.ndarray, audio: np.ndarray) -> None:
        r = lse_from_features(*lse_features(self.net, crops, audio))
        self.sum_c += r["lse_c"]
        self.sum_d += r["lse_d"]
        self.count += 1

    def compute(self) -> dict[str, torch.Tensor]:
        return {"lse_c": self.sum_c / self.count, "lse_d": self.sum_d / self.count}


@register_metric(
    name="lse", direction=HIGHER, level="clip", outputs=("lse_c", "lse_d", "av_offset"), needs=("audio",),
    weights=("syncnet-v2",), protocol="syncnet-v2", protocol_version="1", face=True, crop_protocol="syncnet",
    output_directions=(("lse_d", LOWER),),
    description="SyncNet lip-sync confidence (LSE-C) and distance (LSE-D), syncnet_python protocol",
)
class LSEEvaluator(Evaluator):
    def __init__(self, ctx):
        super().__init__(ctx)
        self.path = ctx.options.get("syncnet_path")
        self.net = load_syncnet(ctx.weights_dir, self.path)
        self.sha = file_sha256(self.path) if self.path else file_sha256(verified("syncnet-v2", ctx.weights_dir).path)

    def weights_used(self):
        return {"syncnet-v2" if not self.path else "syncnet-custom": self.sha}

    def clip(self, item: ClipInput) -> dict:
        crops = item.faces("fake", "syncnet") if item.faces and self.ctx.options.get("crop", "auto") != "none" \
            else item.fake
        return lse_from_features(*lse_features(self.net, crops, item.audio, item.sample_rate))


__getattr__ = torchmetrics_classes(__name__, LSE=_LSE)
