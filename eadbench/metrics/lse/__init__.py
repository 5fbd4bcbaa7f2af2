"""LSE-C / LSE-D: a SyncNet's lip-sync confidence and distance, under the three procedures the
field uses (they disagree), each a named protocol of the ``lse`` metric.

Common to all three (syncnet_python's SyncNetInstance): 224x224 images, BGR, raw 0-255; audio
16 kHz mono as int16 sample values; MFCC 13 @ 100 Hz. Usable length L = min(frames,
floor(samples / 640)); windows start at 0 .. L-6 (``range(0, L - 5)``); video window i pairs
with MFCC frames [4i, 4i + 20). Offsets -15..+15: audio features zero-padded by 15 at both
ends, for every window i the distances ``pairwise_distance`` (eps 1e-6) to audio windows
i .. i+30, averaged over windows into 31 mean distances. LSE-D = their minimum,
LSE-C = median - minimum, AV offset = 15 - argmin (positive: audio leads the video).

* ``syncnet-v2`` (v1, the default): syncnet_python's procedure as Wav2Lip's real-video scripts
  run it, on eadbench's face track and ``syncnet`` crops (scale 0.4, 224x224, pad 110). Option
  ``min_track`` (default 0: off): syncnet_python's run_pipeline.py keeps only face tracks of
  more than ``min_track`` detections (100 there); here a clip of no more frames, or whose
  longest stretch of frames with a known face box is no longer, is excluded with that reason.
* ``wav2lip-lrs`` (v1): Wav2Lip's evaluation/scores_LSE/calculate_scores_LRS.py with its
  SyncNetInstance_calc_scores.py. No face detection: every whole frame, BGR, is resized to
  224x224 by ``cv2.resize``'s default (bilinear, ``INTER_LINEAR``); then the same network,
  MFCC, windows and offsets. Its ``views()`` are whole frames.
* ``latentsync`` (v1): LatentSync's eval/eval_sync_conf.py with eval/syncnet_detect.py (an
  adaptation of syncnet_python's run_pipeline.py). Every face of every frame is detected
  (score > 0.9, then non-maximum suppression at IoU 0.1); scenes are cut where PySceneDetect
  0.6.1's ContentDetector (its defaults) cuts; in each scene of at least ``min_track`` (50)
  frames, faces are linked into tracks: a face joins a track when its IoU with the track's
  last face is above 0.5 and at most 25 frames separate them, greedily, one track at a time,
  in their loop's order; a track is kept when it has more than ``min_track`` detections and a
  mean box side above 100 px. A kept track's boxes are linearly interpolated over its frames,
  median-filtered (13, zero-padded at the track's ends), cropped (scale 0.4: rows
  [y - s, y + 1.8 s), columns [x - 1.4 s, x + 1.4 s) of the frame padded by int(1.8 s) with
  110) and resized to 224x224 (bilinear); its audio is the track's own span. LSE per track;
  LSE-C = mean of the tracks' confidences, AV offset = int(mean of their offsets) (rounded
  towards zero, as ``int(fmean(...))``). A video with no kept track is excluded with the
  reason (their script raises "Face not detected" and its loop skips the video).

Where eadbench necessarily differs from the scripts:

* frames come from eadbench's decoder at 25 fps (nearest-timestamp resampling) and go to the
  network as decoded; the scripts decode with ffmpeg into JPEG files read back by OpenCV
  (LatentSync re-encodes the video at 25 fps first; Wav2Lip's LRS script keeps the file's own
  frame rate), so their frames carry JPEG (and re-encoding) loss that eadbench's do not;
* audio is eadbench's 16 kHz mono float track rounded to int16, not ffmpeg's ``-ac 1 -ar 16000``
  resampling (resamplers differ in the last bits);
* ``latentsync``: MTCNN (eadbench's detector) instead of S3FD, run like their S3FD call on the
  frame at a quarter of its size (``facedet_scale`` 0.25; eadbench downscales with area
  interpolation, S3FD's call bilinearly); S3FD's score threshold (0.9) and its NMS (0.1) are
  applied to MTCNN's faces, but the two detectors' boxes and scores are not the same
  quantities. The crops are not written to an mp4v video and read back through JPEG,
  and a track's audio is the exact sample span [640 first, 640 (last + 1)) instead of an
  ffmpeg ``-ss/-to`` cut re-encoded as AAC. Scene cuts are PySceneDetect 0.6.1's
  ContentDetector rule (mean absolute HSV difference of consecutive frames, downscaled by
  width // 256 with bilinear resizing, at least 27, at least 15 frames after the previous cut)
  computed on eadbench's frames, not on OpenCV's decode of the re-encoded file. Kept quirks:
  when a video has cuts, its last scene ends one frame early (PySceneDetect's end position),
  and the track loop removes faces from a frame's list while iterating over it (the face after
  a taken one is not offered to that track). LSE-D, which their script computes per track and
  drops, is reported as the mean of the tracks' minimum distances;
* ``syncnet-v2``'s ``min_track`` reads eadbench's one-face track, which fills detection gaps
  (interpolation, the first and last boxes held), as the driver passes it (a known box or not
  per frame): frames without a box only arise at the start, when the first face comes later
  than the tracker buffers (about 100 frames). Splitting at detection gaps, scene cuts and
  run_pipeline's face-size floor are what the ``latentsync`` protocol emulates.

Streaming: lip features are computed on overlapping segments of the 224x224 images as they
arrive (the same segments as on the whole clip), so only one segment is held at a time; the
``latentsync`` procedure holds frames only until every open track has cut its crops from them.

Layout: core.py holds what the three share (audio features, windows and offsets, the streaming
lip features, the functional twin ``lse``); syncnet_v2.py, wav2lip_lrs.py and latentsync.py one
procedure each (latentsync_tracks.py its scene cuts, face tracks and crops). This module registers
the metric; ``LSEEvaluator`` picks its procedure once, from the protocol.
"""

from __future__ import annotations

import numpy as np

from eadbench.errors import ChoiceError
from eadbench.media import SAMPLES_PER_FRAME
from eadbench.metrics.base import (
    HIGHER,
    LOWER,
    Chunk,
    ClipMeta,
    Column,
    Evaluator,
    MetricOption,
    TorchMetric,
    register_metric,
)
from eadbench.metrics.lse.core import Procedure, _check_audio, lse, lse_features
from eadbench.metrics.lse.latentsync import LATENTSYNC, Detector, LatentSync
from eadbench.metrics.lse.syncnet_v2 import PROTOCOL, SyncNetV2
from eadbench.metrics.lse.wav2lip_lrs import WAV2LIP_LRS, Wav2LipLRS, whole_frames
from eadbench.nets.syncnet import load_syncnet, lse_from_features

__all__ = ["LATENTSYNC", "PROTOCOL", "WAV2LIP_LRS", "LSEEvaluator", "lse", "lse_features"]

#: protocol name -> its procedure
PROCEDURES: dict[str, type[Procedure]] = {p.protocol.name: p for p in (SyncNetV2, Wav2LipLRS, LatentSync)}


def _class_nets(store, protocol, syncnet_path: str | None = None):
    """What the LSE class holds: the sync expert, and whether its images are whole frames
    (``wav2lip-lrs``) rather than ``syncnet`` crops (``syncnet-v2``). ``latentsync`` tracks the faces
    of whole videos, which a per-batch class cannot: it is the evaluator's (``eadbench.score``)."""
    if protocol.name == LATENTSYNC.name:
        raise ChoiceError("the LSE class computes syncnet-v2 (update with syncnet crops) or wav2lip-lrs (whole "
                          "frames); latentsync tracks faces over whole videos: use eadbench.score")
    return load_syncnet(store, syncnet_path), protocol.name == WAV2LIP_LRS.name


def _class_clip(nets, images: np.ndarray, audio: np.ndarray) -> dict:
    net, whole = nets
    return lse_from_features(*lse_features(net, whole_frames(images) if whole else images, audio))


@register_metric(
    name="lse", direction=HIGHER, level="clip", outputs=("lse_c", "lse_d", "av_offset"), needs=("audio",),
    weights=("syncnet-v2",), protocols=(PROTOCOL, WAV2LIP_LRS, LATENTSYNC),
    output_directions=(("lse_d", LOWER),),
    options=(MetricOption("syncnet_path", "a sync expert from `eadbench syncnet train` instead of syncnet_v2.model"),
             MetricOption("min_track", "syncnet-v2: exclude a clip of no more frames (or frames with a face) than "
                          "this (default 0: off; syncnet_python uses 100); latentsync: a track needs more "
                          "detections than this (default 50)", int, min=0, unit="frames")),
    description="SyncNet lip-sync confidence (LSE-C) and distance (LSE-D): syncnet-v2, wav2lip-lrs or "
                "latentsync",
    functional=lse, order=60, columns=(Column("lse_c", "Sync (LSE-C)", 2), Column("lse_d", "LSE-D", 2)),
    torchmetric=TorchMetric("LSE", "update(syncnet_crops, audio_16k)", nets=_class_nets, clip_outputs=_class_clip),
)
class LSEEvaluator(Evaluator):
    def __init__(self, ctx):
        super().__init__(ctx)
        self.path = ctx.options.get("syncnet_path")
        procedure = PROCEDURES[self.protocol.name]
        self.min_track = procedure.parse_min_track(ctx.options.get("min_track"))
        self.net = load_syncnet(self.store, self.path)  # missing weights: unavailable at once
        self.procedure: Procedure = procedure(self.net, self.min_track, self.store)

    @property
    def detector(self) -> Detector:
        """``latentsync``'s face detector: frames -> every face of each frame as (box, score)
        (MTCNN unless replaced, as tests do)."""
        return self.procedure.detector

    @detector.setter
    def detector(self, detect: Detector) -> None:
        self.procedure.detector = detect

    def protocol_key(self) -> str:
        """``syncnet-v2@1`` only with syncnet_v2.model itself: another expert's numbers are on another
        scale (``+custom-expert``; its sha256 is in the weights record), and syncnet_python's
        minimum track changes which clips count (``+min_track=N``)."""
        key = self.protocol.key
        if self.path:
            key += "+custom-expert"
        return self.procedure.protocol_key(key)

    def views(self):
        return self.procedure.views or super().views()

    def weights_used(self):
        from eadbench.weights import file_sha256

        used = {"syncnet-custom": file_sha256(self.path)} if self.path else super().weights_used()
        used.update(self.procedure.weights_used())
        return used

    def clip(self, meta: ClipMeta, fake: np.ndarray, real: np.ndarray | None = None, chunk: int = 32,
             ok: np.ndarray | None = None) -> dict:
        """The whole clip in memory; ``ok`` (per frame: a face box was known) as the driver passes it."""
        state = self.begin(meta)
        for s in range(0, len(fake), chunk):
            flags = None if ok is None else np.asarray(ok, bool)[s:s + chunk]
            self.update(state, Chunk(s, fake[s:s + chunk], None, flags))
        return self.end(state)

    # -- per clip: the protocol's procedure --------------------------------------------------------
    def begin(self, meta: ClipMeta):
        audio = _check_audio(meta.audio, meta.sample_rate)
        return self.procedure.begin(meta, audio, len(audio) // SAMPLES_PER_FRAME)

    def update(self, state, chunk: Chunk) -> None:
        self.procedure.update(state, chunk)

    def end(self, state) -> dict:
        return self.procedure.end(state)
