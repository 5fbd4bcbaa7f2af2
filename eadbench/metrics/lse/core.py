"""What the ``lse`` metric's three procedures share (syncnet_python's SyncNetInstance, which all
three run): SyncNet v2's audio features of 16 kHz audio rounded to int16, the windows and offsets
through ``lse_features``, the audio checks, the functional twin ``lse``, the streaming lip
features of 224x224 images, and ``Procedure``, what ``LSEEvaluator`` delegates to a protocol's
procedure. Kept apart so each procedure's module holds only what makes it differ (see the package
docstring for the three procedures)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from eadbench.errors import MetricInputError
from eadbench.media import SAMPLES_PER_FRAME
from eadbench.metrics.base import Chunk, ClipMeta, MetricProtocol
from eadbench.nets.mfcc import mfcc
from eadbench.nets.syncnet import VSHIFT, load_syncnet, lse_from_features

SIZE = 224
#: the parameters every protocol of ``lse`` shares (syncnet_python's SyncNetInstance)
_COMMON = (("network", "syncnet_v2"), ("vshift", VSHIFT), ("mfcc", "13@100Hz"), ("colour", "BGR 0-255"))


def _check_audio(audio: np.ndarray | None, sr: int) -> np.ndarray:
    if sr != 16000:
        raise MetricInputError(f"LSE needs 16 kHz audio, got {sr} Hz")
    if audio is None or len(audio) == 0:
        raise MetricInputError("LSE needs audio: the clip has none")
    return np.asarray(audio)


def _too_short(length: int) -> MetricInputError:
    return MetricInputError(f"too short for LSE: {length} usable frames (need at least 6 frames of video "
                            "and audio)")


def audio_features(net, audio: np.ndarray, n_win: int, sr: int = 16000, batch: int = 64) -> torch.Tensor:
    """SyncNet audio embeddings of the MFCC blocks of windows 0 .. n_win-1."""
    pcm = np.clip(np.round(np.asarray(audio, dtype=np.float64) * 32768), -32768, 32767)
    cc = torch.from_numpy(mfcc(pcm, sr).T.astype(np.float32))  # (13, n)
    device = next(net.parameters()).device
    with torch.inference_mode():
        blocks = torch.stack([cc[:, 4 * i:4 * i + 20] for i in range(n_win)])[:, None]
        return torch.cat([net.forward_aud(blocks[i:i + batch].to(device)).cpu()
                          for i in range(0, n_win, batch)])


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
    """Functional twin: LSE-C, LSE-D and AV offset of one clip (``syncnet-v2`` on its crops)."""
    return lse_from_features(*lse_features(load_syncnet(store, syncnet_path), crops, audio))


class _LipStream:
    """Lip features of a stream of 224x224 images over the same overlapping segments as on the
    whole sequence (at most one segment of images held). ``audio_frames`` (floor(samples /
    640)) bounds the usable length, so a segment is computed as soon as it is known to count."""

    def __init__(self, net, audio_frames: int):
        self.net, self.audio_frames = net, audio_frames
        self.start = 0  # first image still held (= the next segment's start)
        self.held: list[np.ndarray] = []
        self.seen = 0
        self.mids: list[torch.Tensor] = []

    def push(self, images) -> None:
        self.held.extend(images)
        self.seen += len(images)
        seg = self.net.segment
        while min(self.seen, self.audio_frames) >= self.start + seg + 5:
            self._segment(self.start + seg + 4)

    def _segment(self, stop: int) -> None:
        lips = self.net.prepare_lips(np.stack(self.held[: stop - self.start]))
        with torch.inference_mode():
            self.mids.append(self.net.lip_mid(lips.to(next(self.net.parameters()).device)).cpu())
        self.held = self.held[self.net.segment:]
        self.start += self.net.segment

    def scores(self, audio: np.ndarray) -> dict:
        """LSE-C, LSE-D, offset of everything pushed, against ``audio`` (the same span)."""
        length = min(self.seen, self.audio_frames)
        n_win = length - 5
        if n_win < 1:
            raise _too_short(length)
        t = n_win + 4
        while self.start < t - 4:
            self._segment(min(t, self.start + self.net.segment + 4))
        with torch.inference_mode():
            lip = self.net.lip_head(torch.cat(self.mids).to(next(self.net.parameters()).device)).cpu()
        return lse_from_features(lip, audio_features(self.net, audio, n_win))




class Procedure:
    """What ``LSEEvaluator`` delegates to its protocol's procedure, chosen once from the protocol
    and built once the sync expert is loaded: the views it streams, its per-clip
    begin/update/end, the networks besides the expert it reads and what its ``min_track`` adds to
    the protocol key."""

    protocol: MetricProtocol
    #: (fake view, real view) when the procedure streams its own; None: the evaluator's default
    views: tuple[str | None, str | None] | None = None

    def __init__(self, net, min_track: int, store) -> None:
        self.net, self.min_track, self.store = net, min_track, store

    @staticmethod
    def parse_min_track(value: Any) -> int:
        """Option ``min_track`` as this procedure reads it (None: not given)."""
        raise NotImplementedError

    def protocol_key(self, key: str) -> str:
        """``key`` with what this procedure's options add to it."""
        return key

    def weights_used(self) -> dict[str, str]:
        """{weight name: sha256} of the networks it builds besides the sync expert."""
        return {}

    def begin(self, meta: ClipMeta, audio: np.ndarray, audio_frames: int) -> Any:
        """Per-clip state; ``audio`` checked, ``audio_frames`` = floor(samples / 640)."""
        raise NotImplementedError

    def update(self, state: Any, chunk: Chunk) -> None:
        raise NotImplementedError

    def end(self, state: Any) -> dict:
        raise NotImplementedError
