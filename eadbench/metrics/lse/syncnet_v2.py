"""``syncnet-v2@1``, the ``lse`` metric's default: syncnet_python's procedure as Wav2Lip's
real-video scripts run it, on eadbench's face track and ``syncnet`` crops, with syncnet_python's
optional minimum track (option ``min_track``, default off) as an exclusion. Its own module so the
default procedure reads in one place; ``wav2lip-lrs`` runs it on whole frames."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from eadbench.metrics.base import Chunk, ClipMeta, MetricProtocol
from eadbench.metrics.lse.core import _COMMON, Procedure, _LipStream

PROTOCOL = MetricProtocol("syncnet-v2", "1", "syncnet", _COMMON,
                          "syncnet_python's procedure: crop scale 0.4, 224, MFCC 13 @ 100 Hz, vshift 15")


@dataclass
class _Lips:
    """Per-clip state of ``syncnet-v2`` and ``wav2lip-lrs``."""

    audio: np.ndarray
    stream: _LipStream
    no_face: int = 0
    run: int = 0  # frames since the last one without a known face box
    longest: int = 0  # the longest such stretch
    skip: str | None = None  # min_track: the clip is excluded, nothing to compute


class SyncNetV2(Procedure):
    """syncnet_python's procedure on the images the driver streams (``syncnet`` crops)."""

    protocol = PROTOCOL

    @staticmethod
    def parse_min_track(value: Any) -> int:
        if value is None:
            return 0
        return value  # a whole number >= 0: checked by its declaration

    def protocol_key(self, key: str) -> str:
        """syncnet_python's minimum track changes which clips count (``+min_track=N``)."""
        if self.min_track:
            key += f"+min_track={self.min_track}"
        return key

    def images(self, frames: np.ndarray) -> np.ndarray:
        """The 224x224 images the network sees of a chunk of the streamed view."""
        return frames

    def begin(self, meta: ClipMeta, audio: np.ndarray, audio_frames: int) -> _Lips:
        state = _Lips(audio, _LipStream(self.net, audio_frames))
        if self.min_track and meta.n_frames is not None and meta.n_frames <= self.min_track:
            state.skip = self._short_clip(meta.n_frames)
        return state

    def update(self, state: _Lips, chunk: Chunk) -> None:
        if state.skip:
            return
        if chunk.fake_ok is not None:
            state.no_face += int((~chunk.fake_ok[: max(0, state.stream.audio_frames - chunk.start)]).sum())
        if self.min_track:
            ok = np.ones(len(chunk.fake), bool) if chunk.fake_ok is None else np.asarray(chunk.fake_ok, bool)
            for flag in ok:
                state.run = state.run + 1 if flag else 0
                state.longest = max(state.longest, state.run)
        state.stream.push(self.images(chunk.fake))

    def end(self, state: _Lips) -> dict:
        if not state.skip and self.min_track:
            if state.stream.seen <= self.min_track:
                state.skip = self._short_clip(state.stream.seen)
            elif state.longest <= self.min_track:
                state.skip = (f"no face track of more than min_track={self.min_track} frames: the longest "
                              f"stretch with a known face box is {state.longest} of {state.stream.seen} "
                              "frames")
        if state.skip:
            return {"lse_c": None, "lse_d": None, "av_offset": None, "excluded": state.skip}
        out = state.stream.scores(state.audio)
        out["face_frames_missing"] = state.no_face
        return out

    def _short_clip(self, n: int) -> str:
        return (f"clip of {n} frames, not more than min_track={self.min_track} (syncnet_python's "
                "run_pipeline keeps only face tracks of more detections)")

