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
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any, Callable

import cv2
import numpy as np
import torch

from eadbench.errors import ChoiceError, MetricInputError
from eadbench.media import SAMPLES_PER_FRAME
from eadbench.metrics.base import (
    FRAMES,
    HIGHER,
    LOWER,
    Chunk,
    ClipMeta,
    Evaluator,
    MetricOption,
    MetricProtocol,
    register_metric,
)
from eadbench.nets.mfcc import mfcc
from eadbench.nets.syncnet import VSHIFT, load_syncnet, lse_from_features

SIZE = 224
_COMMON = (("network", "syncnet_v2"), ("vshift", VSHIFT), ("mfcc", "13@100Hz"), ("colour", "BGR 0-255"))
PROTOCOL = MetricProtocol("syncnet-v2", "1", "syncnet", _COMMON,
                          "syncnet_python's procedure: crop scale 0.4, 224, MFCC 13 @ 100 Hz, vshift 15")
WAV2LIP_LRS = MetricProtocol(
    "wav2lip-lrs", "1", None, _COMMON + (("image", "whole frame resized to 224x224, cv2 bilinear"),),
    "Wav2Lip's calculate_scores_LRS.py: whole frames resized to 224, no face detection")

# LatentSync's eval/syncnet_detect.py (run_pipeline.py's values, min_track 50)
MIN_TRACK = 50  # a track needs more detections than this; a scene at least this many frames
NUM_FAILED_DET = 25  # a face may be missing for this many frames inside a track
IOU_THRES = 0.5  # a face joins a track when its IoU with the track's last face is above this
MIN_FACE_SIZE = 100  # pixels: the mean box width or height of a kept track must be above this
CROP_SCALE = 0.4
SMOOTH = 13  # median filter of box centre and size (scipy.signal.medfilt: zero-padded ends)
FACEDET_SCALE = 0.25  # the detector sees the frame at this scale (their detect_face's facedet_scale)
FACE_CONF = 0.9  # S3FD's score threshold (detect_face(conf_th=0.9))
FACE_NMS = 0.1  # S3FD's non-maximum suppression overlap
SCENE_THRESHOLD = 27.0  # PySceneDetect 0.6.1 ContentDetector defaults
SCENE_MIN_LEN = 15
SCENE_MIN_WIDTH = 256  # SceneManager's automatic downscale: factor = width // 256
LATENTSYNC = MetricProtocol(
    "latentsync", "1", None,
    _COMMON + (("detector", "mtcnn (eadbench) for s3fd: frame at 0.25, every face, score > 0.9, nms 0.1"),
               ("scenes", f"content {SCENE_THRESHOLD}/{SCENE_MIN_LEN} (pyscenedetect 0.6.1)"),
               ("min_track", MIN_TRACK), ("num_failed_det", NUM_FAILED_DET), ("iou", IOU_THRES),
               ("min_face_size", MIN_FACE_SIZE), ("crop_scale", CROP_SCALE), ("smooth", SMOOTH),
               ("average", "mean conf, int(mean offset), mean dist over tracks")),
    "LatentSync's eval_sync_conf.py: face tracks of > 50 detections, scene cuts, confidence averaged "
    "over tracks")


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


def whole_frames(frames: np.ndarray) -> np.ndarray:
    """``wav2lip-lrs``'s images: every whole frame resized to 224x224 with cv2.resize's default
    (bilinear). Channel order does not change a resize, so RGB in gives RGB out."""
    return np.stack([cv2.resize(np.ascontiguousarray(f), (SIZE, SIZE)) for f in frames])


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


@dataclass
class _Lips:
    """Per-clip state of ``syncnet-v2`` and ``wav2lip-lrs``."""

    audio: np.ndarray
    stream: _LipStream
    no_face: int = 0
    run: int = 0  # frames since the last one without a known face box
    longest: int = 0  # the longest such stretch
    skip: str | None = None  # min_track: the clip is excluded, nothing to compute


# -- latentsync: scenes, face tracks, crops ---------------------------------------------------------


class SceneCuts:
    """PySceneDetect 0.6.1's ContentDetector with its defaults, fed frame by frame: frame ``f``
    starts a new scene when the mean absolute difference of hue, saturation and value against
    the previous frame (averaged over the three) is at least 27 and at least 15 frames have
    passed since the last cut (or since frame 0). Frames are first downscaled by the
    SceneManager's automatic factor, width // 256, with bilinear resizing."""

    def __init__(self) -> None:
        self.last: tuple[np.ndarray, ...] | None = None
        self.last_cut = 0
        self.cuts: list[int] = []

    def push(self, index: int, frame_rgb: np.ndarray) -> bool:
        h, w = frame_rgb.shape[:2]
        factor = 1 if w < SCENE_MIN_WIDTH else w // SCENE_MIN_WIDTH
        small = frame_rgb
        if factor > 1:
            small = cv2.resize(np.ascontiguousarray(frame_rgb), (round(w / factor), round(h / factor)),
                               interpolation=cv2.INTER_LINEAR)
        hsv = cv2.split(cv2.cvtColor(np.ascontiguousarray(small), cv2.COLOR_RGB2HSV))
        last, self.last = self.last, hsv
        if last is None:
            return False
        pixels = float(hsv[0].shape[0] * hsv[0].shape[1])
        deltas = [np.sum(np.abs(a.astype(np.int32) - b.astype(np.int32))) / pixels for a, b in zip(hsv, last)]
        score = (deltas[0] * 1.0 + deltas[1] * 1.0 + deltas[2] * 1.0 + 0.0) / 3.0
        if score >= SCENE_THRESHOLD and index - self.last_cut >= SCENE_MIN_LEN:
            self.last_cut = index
            self.cuts.append(index)
            return True
        return False


def box_iou(a, b) -> float:
    """IoU of two (x1, y1, x2, y2) boxes, as syncnet_python's bb_intersection_over_union."""
    inter = max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))
    return inter / float((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def suppress(faces: list[tuple[np.ndarray, float]], conf: float = FACE_CONF,
             overlap: float = FACE_NMS) -> list[np.ndarray]:
    """S3FD's post-processing on any detector's faces: score above ``conf``, then greedy
    non-maximum suppression (best score first; a box overlapping a kept one by more than
    ``overlap`` IoU is dropped). Boxes in the kept order."""
    order = sorted((f for f in faces if f[1] > conf), key=lambda f: -f[1])
    kept: list[np.ndarray] = []
    for box, _ in order:
        if all(box_iou(box, k) <= overlap for k in kept):
            kept.append(np.asarray(box, dtype=np.float64))
    return kept


@dataclass
class FaceTrack:
    """One face track of the ``latentsync`` procedure, built frame by frame."""

    scene: int
    members: list[tuple[int, np.ndarray]] = field(default_factory=list)  # (frame, box) taken, in order
    boxes: list[np.ndarray] = field(default_factory=list)  # interpolated box of frames first, first + 1, ...
    done: bool = False  # no face can join any more
    cropped: int = 0  # crops cut so far
    crops: list[np.ndarray] = field(default_factory=list)  # cut, not yet handed to the lip stream
    lips: _LipStream | None = None
    result: dict | None = None
    error: str | None = None  # why a kept track cannot be scored (their script raises on it)
    crop_error: str | None = None  # a crop that cannot be cut (used only if the track is kept)

    @property
    def first(self) -> int:
        return self.members[0][0]

    @property
    def last(self) -> int:
        return self.members[-1][0]

    def take(self, frame: int, box: np.ndarray) -> None:
        """A face joins: the frames since the last one get boxes interpolated linearly between
        the two (scipy's interp1d, which hands this case to numpy.interp: a face's own frame
        keeps its box exactly, a frame between two faces gets slope * (frame - f0) + box0)."""
        box = np.asarray(box, dtype=np.float64)
        if self.members and frame > self.last:
            f0, b0 = self.members[-1]
            slope = (box - b0) / (frame - f0)
            self.boxes.extend(slope * (g - f0) + b0 for g in range(f0 + 1, frame))
            self.boxes.append(box)
        elif not self.members:
            self.boxes.append(box)
        self.members.append((frame, box))

    def offer(self, frame: int, faces: list[np.ndarray], num_failed_det: int = NUM_FAILED_DET) -> None:
        """One pass of their loop over a frame's remaining faces: the first face starts an empty
        track; a face within ``num_failed_det`` frames of the track's last one and overlapping it
        by more than IoU 0.5 joins. A face that joins is removed from ``faces`` while the loop
        walks the list, so the face after it is skipped, as a Python for-loop over a list being
        shortened does."""
        i = 0
        while i < len(faces):
            face = faces[i]
            if not self.members:
                self.take(frame, face)
                faces.pop(i)
            elif frame - self.last <= num_failed_det:
                if box_iou(face, self.members[-1][1]) > IOU_THRES:
                    self.take(frame, face)
                    faces.pop(i)
            else:
                break
            i += 1

    def geometry(self, lo: int, hi: int) -> np.ndarray:
        """(hi - lo, 3) centre x, centre y, half-size s of interpolated boxes lo .. hi-1, as their
        crop_video computes them."""
        b = np.asarray(self.boxes[lo:hi])
        return np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2,
                         np.maximum(b[:, 3] - b[:, 1], b[:, 2] - b[:, 0]) / 2], axis=1)

    def kept(self, min_track: int, min_face_size: float = MIN_FACE_SIZE) -> bool:
        if len(self.members) <= min_track:
            return False
        b = np.asarray(self.boxes)
        return max(np.mean(b[:, 2] - b[:, 0]), np.mean(b[:, 3] - b[:, 1])) > min_face_size


def _span(start: int, stop: int, n: int) -> tuple[int, int]:
    """Python slice bounds [start:stop] of a sequence of length n (negative starts wrap)."""
    return slice(start, stop).indices(n)[:2]


def latentsync_crop(frame: np.ndarray, x: float, y: float, s: float, cs: float = CROP_SCALE) -> np.ndarray:
    """Their crop of one frame at smoothed centre (x, y) and half-size s: the frame padded by
    int(s (1 + 2 cs)) with 110, rows [y - s, y + s (1 + 2 cs)), columns [x - s (1 + cs),
    x + s (1 + cs)) (truncated like their slices), resized to 224x224 (bilinear). The padding
    is virtual: only the window is built."""
    h, w = frame.shape[:2]
    bsi = int(s * (1 + 2 * cs))
    my, mx = y + bsi, x + bsi
    r0, r1 = _span(int(my - s), int(my + s * (1 + 2 * cs)), h + 2 * bsi)
    c0, c1 = _span(int(mx - s * (1 + cs)), int(mx + s * (1 + cs)), w + 2 * bsi)
    if r1 <= r0 or c1 <= c0:
        raise MetricInputError(f"empty face crop at centre ({x:.1f}, {y:.1f}), half-size {s:.1f} px (their "
                               "crop fails there too)")
    face = np.full((r1 - r0, c1 - c0, frame.shape[2]), 110, dtype=frame.dtype)
    fr0, fr1 = max(r0, bsi), min(r1, bsi + h)
    fc0, fc1 = max(c0, bsi), min(c1, bsi + w)
    if fr1 > fr0 and fc1 > fc0:
        face[fr0 - r0:fr1 - r0, fc0 - c0:fc1 - c0] = frame[fr0 - bsi:fr1 - bsi, fc0 - bsi:fc1 - bsi]
    return cv2.resize(face, (SIZE, SIZE))


@dataclass
class _Tracks:
    """Per-clip state of ``latentsync``."""

    audio: np.ndarray
    audio_frames: int
    scenes: SceneCuts = field(default_factory=SceneCuts)
    scene: int = 0
    scene_start: int = 0
    short_scenes: set[int] = field(default_factory=set)
    tracks: list[FaceTrack] = field(default_factory=list)
    frames: dict[int, np.ndarray] = field(default_factory=dict)  # held until every track has cropped them
    pending: list[np.ndarray] | None = None  # the latest frame's faces (tracked once its scene is known)
    seen: int = 0
    no_face: int = 0


Detector = Callable[[np.ndarray], list[list[tuple[np.ndarray, float]]]]


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
)
class LSEEvaluator(Evaluator):
    def __init__(self, ctx):
        super().__init__(ctx)
        self.path = ctx.options.get("syncnet_path")
        self.kind = self.protocol.name
        self.min_track = self._min_track(ctx.options.get("min_track"))
        self.net = load_syncnet(self.store, self.path)  # missing weights: unavailable at once
        #: frames -> every face of each frame as (box, score); MTCNN unless replaced (tests)
        self.detector: Detector = self._mtcnn_faces

    def _min_track(self, value: Any) -> int:
        default = MIN_TRACK if self.kind == LATENTSYNC.name else 0
        if value is None:
            return default
        if self.kind == WAV2LIP_LRS.name:
            raise ChoiceError("lse option min_track does not apply to protocol wav2lip-lrs "
                              "(it tracks no face)")
        return value  # a whole number >= 0: checked by its declaration

    def protocol_key(self) -> str:
        """``syncnet-v2@1`` only with syncnet_v2.model itself: another expert's numbers are on another
        scale (``+custom-expert``; its sha256 is in the weights record), and syncnet_python's
        minimum track changes which clips count (``+min_track=N``)."""
        key = self.protocol.key
        if self.path:
            key += "+custom-expert"
        if self.kind != LATENTSYNC.name and self.min_track:
            key += f"+min_track={self.min_track}"
        return key

    def views(self):
        if self.kind == LATENTSYNC.name:
            return FRAMES, None  # it finds and crops the faces itself
        return super().views()

    def weights_used(self):
        from eadbench.weights import file_sha256

        used = {"syncnet-custom": file_sha256(self.path)} if self.path else super().weights_used()
        if self.kind == LATENTSYNC.name:
            from eadbench.nets.mtcnn import WEIGHTS

            used.update({n: self.store.sha256(n) for n in WEIGHTS if self.store.available(n)})
        return used

    def clip(self, meta: ClipMeta, fake: np.ndarray, real: np.ndarray | None = None, chunk: int = 32,
             ok: np.ndarray | None = None) -> dict:
        """The whole clip in memory; ``ok`` (per frame: a face box was known) as the driver passes it."""
        state = self.begin(meta)
        for s in range(0, len(fake), chunk):
            flags = None if ok is None else np.asarray(ok, bool)[s:s + chunk]
            self.update(state, Chunk(s, fake[s:s + chunk], None, flags))
        return self.end(state)

    # -- per clip ----------------------------------------------------------------------------------
    def begin(self, meta: ClipMeta):
        audio = _check_audio(meta.audio, meta.sample_rate)
        audio_frames = len(audio) // SAMPLES_PER_FRAME
        if self.kind == LATENTSYNC.name:
            return _Tracks(audio, audio_frames)
        state = _Lips(audio, _LipStream(self.net, audio_frames))
        if self.min_track and meta.n_frames is not None and meta.n_frames <= self.min_track:
            state.skip = self._short_clip(meta.n_frames)
        return state

    def update(self, state, chunk: Chunk) -> None:
        if isinstance(state, _Tracks):
            self._update_tracks(state, chunk)
            return
        if state.skip:
            return
        if chunk.fake_ok is not None:
            state.no_face += int((~chunk.fake_ok[: max(0, state.stream.audio_frames - chunk.start)]).sum())
        if self.min_track:
            ok = np.ones(len(chunk.fake), bool) if chunk.fake_ok is None else np.asarray(chunk.fake_ok, bool)
            for flag in ok:
                state.run = state.run + 1 if flag else 0
                state.longest = max(state.longest, state.run)
        state.stream.push(whole_frames(chunk.fake) if self.kind == WAV2LIP_LRS.name else chunk.fake)

    def end(self, state) -> dict:
        if isinstance(state, _Tracks):
            return self._end_tracks(state)
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

    # -- latentsync --------------------------------------------------------------------------------
    def _mtcnn_faces(self, frames: np.ndarray) -> list[list[tuple[np.ndarray, float]]]:
        from eadbench.faces.detect import detect_batch

        found = detect_batch(frames, self.store, FACEDET_SCALE)
        return [[(f.box, f.score) for f in faces] for faces in found]

    def _update_tracks(self, st: _Tracks, chunk: Chunk) -> None:
        found = self.detector(chunk.fake)
        for k, frame in enumerate(chunk.fake):
            f = chunk.start + k
            st.frames[f] = frame
            cut = st.scenes.push(f, frame)
            if st.pending is not None:
                self._feed(st, f - 1, st.pending)
            if cut:
                self._close_scene(st, f)
            st.pending = suppress(found[k])
            st.no_face += not st.pending
            st.seen = f + 1
            self._cut_crops(st)

    def _feed(self, st: _Tracks, f: int, faces: list[np.ndarray]) -> None:
        """Frame ``f``'s faces go to the scene's tracks in the order their loop builds them; the
        faces no track takes start new tracks."""
        faces = list(faces)
        for t in st.tracks:
            if t.done or t.scene != st.scene:
                continue
            if f - t.last > NUM_FAILED_DET:
                self._finish(st, t)
                continue
            t.offer(f, faces)
        while faces:
            t = FaceTrack(st.scene)
            st.tracks.append(t)
            t.offer(f, faces)

    def _close_scene(self, st: _Tracks, end: int) -> None:
        """The scene ends before frame ``end``: its tracks are complete."""
        if end - st.scene_start < self.min_track:
            st.short_scenes.add(st.scene)
        for t in st.tracks:
            if t.scene == st.scene and not t.done:
                self._finish(st, t)
        st.scene, st.scene_start = st.scene + 1, end

    def _cut_crops(self, st: _Tracks, final: bool = False) -> None:
        """Cut every crop whose smoothed box is known (the boxes 6 frames on exist, or the track is
        done), then let go of frames no open track can still need."""
        half = SMOOTH // 2
        for t in st.tracks:
            n = len(t.boxes)
            if t.result is not None or t.error is not None or t.crop_error or (t.done and t.cropped == n):
                continue
            ready = n if t.done else n - half  # medfilt: 6 boxes on each side, zeros past the ends
            if t.cropped >= ready:
                continue
            lo = max(0, t.cropped - half)
            geo = t.geometry(lo, min(n, ready + half))
            for i in range(t.cropped, ready):
                window = np.stack([geo[j - lo] if 0 <= j < n else np.zeros(3)
                                   for j in range(i - half, i + half + 1)])
                x, y, s = np.median(window, axis=0)
                try:
                    t.crops.append(latentsync_crop(st.frames[t.first + i], x, y, s))
                except MetricInputError as exc:
                    t.crop_error = f"face track from frame {t.first}, frame {t.first + i}: {exc}"
                    t.crops, t.lips = [], None
                    break
            if t.crop_error:
                continue
            t.cropped = ready
            if t.lips is None and len(t.members) > self.min_track:
                t.lips = _LipStream(self.net, st.audio_frames - t.first)
            if t.lips is not None:
                t.lips.push(t.crops)
                t.crops = []
        need = [t.first + t.cropped for t in st.tracks
                if not (t.crop_error or (t.done and t.cropped == len(t.boxes)))]
        keep_from = min(need + [st.seen - 1 if not final else st.seen])
        for f in [f for f in st.frames if f < keep_from]:
            del st.frames[f]

    def _finish(self, st: _Tracks, t: FaceTrack) -> None:
        """No face can join ``t`` any more: cut its last crops and, when it is kept, score it."""
        t.done = True
        self._cut_crops(st)
        if not t.kept(self.min_track):
            t.crops = []
            t.lips = None
            return
        if t.crop_error:
            t.error = t.crop_error
            return
        if t.lips is None:
            t.lips = _LipStream(self.net, st.audio_frames - t.first)
        t.lips.push(t.crops)
        t.crops = []
        span = st.audio[SAMPLES_PER_FRAME * t.first:SAMPLES_PER_FRAME * (t.first + len(t.boxes))]
        try:
            t.result = t.lips.scores(span)
        except MetricInputError as exc:
            t.error = f"face track at frames {t.first}-{t.first + len(t.boxes) - 1}: {exc}"
        t.lips = None

    def _end_tracks(self, st: _Tracks) -> dict:
        if st.seen == 0:
            raise MetricInputError("no frames to score")
        if st.pending is not None and not st.scenes.cuts:
            self._feed(st, st.seen - 1, st.pending)
        # with cuts, the last scene ends at PySceneDetect's end position, one frame before the end
        self._close_scene(st, st.seen if not st.scenes.cuts else st.seen - 1)
        self._cut_crops(st, final=True)
        kept = [t for t in st.tracks if t.scene not in st.short_scenes and (t.result or t.error)]
        extra = {"face_tracks": len(kept), "scene_cuts": len(st.scenes.cuts),
                 "face_frames_missing": st.no_face}
        if not kept:
            return {"lse_c": None, "lse_d": None, "av_offset": None, **extra,
                    "excluded": f"no face track of more than {self.min_track} detections with a mean box "
                                f"side above {MIN_FACE_SIZE} px in {st.seen} frames (LatentSync's "
                                "eval_sync_conf skips the video)"}
        errors = [t.error for t in kept if t.error]
        if errors:  # their evaluation raises on such a track and the video is skipped
            return {"lse_c": None, "lse_d": None, "av_offset": None, **extra, "excluded": errors[0]}
        confs = [t.result["lse_c"] for t in kept]
        return {"lse_c": statistics.fmean(confs), "lse_d": statistics.fmean(t.result["lse_d"] for t in kept),
                "av_offset": float(int(statistics.fmean(t.result["av_offset"] for t in kept))), **extra,
                "track_frames": ",".join(f"{t.first}-{t.first + len(t.boxes) - 1}" for t in kept),
                "track_lse_c": ",".join(f"{c:.4f}" for c in confs)}
