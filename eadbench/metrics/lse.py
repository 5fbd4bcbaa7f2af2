"""LSE-C / LSE-D, protocol ``syncnet-v2`` (v1): syncnet_python's evaluation, as Wav2Lip's LRS
scripts run it.

Face crops (protocol ``syncnet``: scale 0.4, 224x224), BGR, raw 0-255; audio 16 kHz mono as
int16 sample values; MFCC 13 @ 100 Hz. Usable length L = min(frames, floor(samples / 640));
windows start at 0 .. L-6 (syncnet_python iterates ``range(0, L - 5)``); video window i pairs
with MFCC frames [4i, 4i + 20). Offsets -15..+15: audio features zero-padded by 15 at both
ends, for every window i the distances ``pairwise_distance`` (eps 1e-6) to audio windows
i .. i+30, averaged over windows into 31 mean distances. LSE-D = their minimum,
LSE-C = median - minimum, AV offset = 15 - argmin (positive: audio leads the video).

Streaming: the lip stream runs on overlapping segments of the crops as they arrive (the same
segments as on the whole clip), so only one segment of crops is held at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from eadbench.errors import MetricInputError
from eadbench.metrics.base import HIGHER, LOWER, Chunk, ClipMeta, Evaluator, MetricProtocol, register_metric
from eadbench.nets.mfcc import mfcc
from eadbench.nets.syncnet import VSHIFT, lse_from_features, load_syncnet

SAMPLES_PER_FRAME = 640
PROTOCOL = MetricProtocol("syncnet-v2", "1", "syncnet", (("network", "syncnet_v2"), ("vshift", VSHIFT),
                                                        ("mfcc", "13@100Hz"), ("colour", "BGR 0-255")),
                          "syncnet_python's procedure: crop scale 0.4, 224, MFCC 13 @ 100 Hz, vshift 15")


def _check_audio(audio: np.ndarray | None, sr: int) -> np.ndarray:
    if sr != 16000:
        raise MetricInputError(f"LSE needs 16 kHz audio, got {sr} Hz")
    if audio is None or len(audio) == 0:
        raise MetricInputError("LSE needs audio: the clip has none")
    return np.asarray(audio)


def _too_short(length: int) -> MetricInputError:
    return MetricInputError(f"too short for LSE: {length} usable frames (need at least 6 frames of video and audio)")


def audio_features(net, audio: np.ndarray, n_win: int, sr: int = 16000, batch: int = 64) -> torch.Tensor:
    """SyncNet audio embeddings of the MFCC blocks of windows 0 .. n_win-1."""
    pcm = np.clip(np.round(np.asarray(audio, dtype=np.float64) * 32768), -32768, 32767)
    cc = torch.from_numpy(mfcc(pcm, sr).T.astype(np.float32))  # (13, n)
    device = next(net.parameters()).device
    with torch.inference_mode():
        blocks = torch.stack([cc[:, 4 * i:4 * i + 20] for i in range(n_win)])[:, None]
        return torch.cat([net.forward_aud(blocks[i:i + batch].to(device)).cpu() for i in range(0, n_win, batch)])


def lse_features(net, crops: np.ndarray, audio: np.ndarray, sr: int = 16000,
                 batch: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """(lip features, audio features), one row per window, of a clip held in memory."""
    audio = _check_audio(audio, sr)
    crops = np.asarray(crops)
    length = min(len(crops), len(audio) // SAMPLES_PER_FRAME)
    n_win = length - 5
    if n_win < 1:
        raise _too_short(length)
    lips = net.prepare_lips(crops[: n_win + 4])
    device = next(net.parameters()).device
    with torch.inference_mode():
        lip = net.lip_sequence(lips.to(device)).cpu()
    return lip, audio_features(net, audio, n_win, sr, batch)


def lse(crops: np.ndarray, audio: np.ndarray, store=None, syncnet_path: str | None = None) -> dict:
    """Functional twin: LSE-C, LSE-D and AV offset of one clip."""
    return lse_from_features(*lse_features(load_syncnet(store, syncnet_path), crops, audio))


@dataclass
class _Lips:
    audio: np.ndarray
    audio_frames: int  # floor(samples / 640)
    start: int = 0  # first frame still held (= the next segment's start)
    held: list[np.ndarray] = field(default_factory=list)  # crops from ``start`` on
    seen: int = 0
    mids: list[torch.Tensor] = field(default_factory=list)


@register_metric(
    name="lse", direction=HIGHER, level="clip", outputs=("lse_c", "lse_d", "av_offset"), needs=("audio",),
    weights=("syncnet-v2",), protocols=(PROTOCOL,), output_directions=(("lse_d", LOWER),),
    options=(("syncnet_path", "a sync expert from `eadbench syncnet train` instead of syncnet_v2.model"),),
    description="SyncNet lip-sync confidence (LSE-C) and distance (LSE-D), syncnet_python protocol",
)
class LSEEvaluator(Evaluator):
    def __init__(self, ctx):
        super().__init__(ctx)
        self.path = ctx.options.get("syncnet_path")
        self.net = load_syncnet(self.store, self.path)  # missing weights: unavailable at once

    def weights_used(self):
        from eadbench.weights import file_sha256

        if self.path:
            return {"syncnet-custom": file_sha256(self.path)}
        return super().weights_used()

    def begin(self, meta: ClipMeta) -> _Lips:
        audio = _check_audio(meta.audio, meta.sample_rate)
        return _Lips(audio, len(audio) // SAMPLES_PER_FRAME)

    def update(self, state: _Lips, chunk: Chunk) -> None:
        state.held.extend(chunk.fake)
        state.seen = chunk.start + len(chunk.fake)
        seg = self.net.segment
        # a segment is final once the clip is known to reach past it: same segments as the whole clip
        while min(state.seen, state.audio_frames) >= state.start + seg + 5:
            self._segment(state, state.start + seg + 4)
            state.held = state.held[seg:]
            state.start += seg

    def _segment(self, state: _Lips, stop: int) -> None:
        lips = self.net.prepare_lips(np.stack(state.held[: stop - state.start]))
        with torch.inference_mode():
            state.mids.append(self.net.lip_mid(lips.to(next(self.net.parameters()).device)).cpu())

    def end(self, state: _Lips) -> dict:
        length = min(state.seen, state.audio_frames)
        n_win = length - 5
        if n_win < 1:
            raise _too_short(length)
        t = n_win + 4
        seg = self.net.segment
        while state.start < t - 4:
            self._segment(state, min(t, state.start + seg + 4))
            state.held = state.held[seg:]
            state.start += seg
        with torch.inference_mode():
            lip = self.net.lip_head(torch.cat(state.mids).to(next(self.net.parameters()).device)).cpu()
        return lse_from_features(lip, audio_features(self.net, state.audio, n_win))
