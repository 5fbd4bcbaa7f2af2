"""``latentsync@1``: LatentSync's eval/eval_sync_conf.py with eval/syncnet_detect.py, streamed:
every face of every frame detected, scenes cut, faces linked into tracks (latentsync_tracks.py),
each kept track's median-filtered crops scored by SyncNet against its own audio span, and LSE
averaged over the tracks. Its own module because it is the one procedure that finds and crops the
faces itself; a video with no kept track is excluded with the reason."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from eadbench.errors import MetricInputError
from eadbench.media import SAMPLES_PER_FRAME
from eadbench.metrics.base import FRAMES, Chunk, ClipMeta, MetricProtocol
from eadbench.metrics.lse.core import _COMMON, Procedure, _LipStream
from eadbench.metrics.lse.latentsync_tracks import (
    CROP_SCALE,
    FACEDET_SCALE,
    IOU_THRES,
    MIN_FACE_SIZE,
    MIN_TRACK,
    NUM_FAILED_DET,
    SCENE_MIN_LEN,
    SCENE_THRESHOLD,
    SMOOTH,
    FaceTrack,
    SceneCuts,
    latentsync_crop,
    suppress,
)

LATENTSYNC = MetricProtocol(
    "latentsync", "1", None,
    _COMMON + (("detector", "mtcnn (eadbench) for s3fd: frame at 0.25, every face, score > 0.9, nms 0.1"),
               ("scenes", f"content {SCENE_THRESHOLD}/{SCENE_MIN_LEN} (pyscenedetect 0.6.1)"),
               ("min_track", MIN_TRACK), ("num_failed_det", NUM_FAILED_DET), ("iou", IOU_THRES),
               ("min_face_size", MIN_FACE_SIZE), ("crop_scale", CROP_SCALE), ("smooth", SMOOTH),
               ("average", "mean conf, int(mean offset), mean dist over tracks")),
    "LatentSync's eval_sync_conf.py: face tracks of > 50 detections, scene cuts, confidence averaged "
    "over tracks")



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


class LatentSync(Procedure):
    """LatentSync's procedure over the frames the driver streams."""

    protocol = LATENTSYNC
    views = (FRAMES, None)  # it finds and crops the faces itself

    def __init__(self, net, min_track: int, store) -> None:
        super().__init__(net, min_track, store)
        #: frames -> every face of each frame as (box, score); MTCNN unless replaced (tests)
        self.detector: Detector = self.mtcnn_faces

    @staticmethod
    def parse_min_track(value: Any) -> int:
        if value is None:
            return MIN_TRACK
        return value  # a whole number >= 0: checked by its declaration

    def weights_used(self) -> dict[str, str]:
        from eadbench.nets.mtcnn import WEIGHTS

        return {n: self.store.sha256(n) for n in WEIGHTS if self.store.available(n)}

    def begin(self, meta: ClipMeta, audio: np.ndarray, audio_frames: int) -> _Tracks:
        return _Tracks(audio, audio_frames)

    def mtcnn_faces(self, frames: np.ndarray) -> list[list[tuple[np.ndarray, float]]]:
        from eadbench.faces.detect import detect_batch

        found = detect_batch(frames, self.store, FACEDET_SCALE)
        return [[(f.box, f.score) for f in faces] for faces in found]

    def update(self, st: _Tracks, chunk: Chunk) -> None:
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

    def end(self, st: _Tracks) -> dict:
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
