"""Test-only references: Wav2Lip's calculate_scores_LRS.py and LatentSync's eval_sync_conf.py (with
its syncnet_detect.py) written plainly, loop by loop, independently of eadbench's production code.

Both end in syncnet_python's SyncNetInstance loop, which ``syncnet_reference.evaluate`` already
writes out (it takes RGB images and reads them as BGR, so BGR images go in channel-reversed).
LatentSync's side is done the way its scripts do it, on the whole clip at once: S3FD's score
threshold and numpy NMS on the given faces, PySceneDetect 0.6.1's ContentDetector over every
frame, the scene list with its end positions, the track loop over a scene's face lists (really
removing faces from the list it is walking), scipy's interp1d and medfilt, the crop through
numpy.pad, each track's audio span, and the averages with statistics.fmean. Faces are given
per frame as (box, score) pairs: the detector is not part of the reference.
"""

from __future__ import annotations

import math
import statistics

import cv2
import numpy as np
from scipy import signal
from scipy.interpolate import interp1d

from tests.reference.syncnet_reference import evaluate


def _bgr(frame_rgb: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(frame_rgb[:, :, ::-1])


def _as_rgb_for_evaluate(images_bgr: list[np.ndarray]) -> np.ndarray:
    return np.stack([im[:, :, ::-1] for im in images_bgr])


# -- Wav2Lip calculate_scores_LRS.py --------------------------------------------------------------------

def wav2lip_lrs(state_dict, frames_rgb: np.ndarray, audio_int16: np.ndarray) -> dict:
    """Each frame read as BGR and resized to 224x224 with cv2.resize's default, then the loop."""
    images = []
    for frame in frames_rgb:
        images.append(cv2.resize(_bgr(frame), (224, 224)))
    return evaluate(state_dict, _as_rgb_for_evaluate(images), audio_int16)


# -- LatentSync syncnet_detect.py + eval_sync_conf.py -----------------------------------------------------

def s3fd_post(faces: list[tuple], conf_th: float = 0.9, nms_th: float = 0.1) -> list[tuple]:
    """Boxes above the score threshold, then Girshick's CPU NMS; kept boxes best score first."""
    rows = [list(box) + [score] for box, score in faces if score > conf_th]
    if not rows:
        return []
    dets = np.array(rows, dtype=np.float64)
    area = (dets[:, 2] - dets[:, 0]) * (dets[:, 3] - dets[:, 1])
    order = list(np.argsort(-dets[:, 4], kind="stable"))
    keep = []
    while order:
        i = order.pop(0)
        keep.append(i)
        survivors = []
        for j in order:
            w = max(0.0, min(dets[i, 2], dets[j, 2]) - max(dets[i, 0], dets[j, 0]))
            h = max(0.0, min(dets[i, 3], dets[j, 3]) - max(dets[i, 1], dets[j, 1]))
            overlap = w * h / (area[i] + area[j] - w * h)
            if overlap <= nms_th:
                survivors.append(j)
        order = survivors
    return [tuple(float(v) for v in dets[i, :4]) for i in keep]


def scene_list(frames_rgb: np.ndarray, threshold: float = 27.0, min_len: int = 15) -> list[tuple[int, int]]:
    """PySceneDetect 0.6.1 with a ContentDetector and the VideoManager fallback of their script."""
    previous = None
    last_cut = 0
    cuts = []
    for num, frame in enumerate(frames_rgb):
        image = _bgr(frame)
        height, width = image.shape[:2]
        factor = 1 if width < 256 else width // 256
        if factor > 1:
            image = cv2.resize(image, (round(width / factor), round(height / factor)),
                               interpolation=cv2.INTER_LINEAR)
        planes = cv2.split(cv2.cvtColor(image, cv2.COLOR_BGR2HSV))
        if previous is None:
            score = 0.0
        else:
            n_px = float(planes[0].shape[0] * planes[0].shape[1])
            parts = []
            for now, before in zip(planes, previous):
                parts.append(np.sum(np.abs(now.astype(np.int32) - before.astype(np.int32))) / n_px)
            parts.append(0.0)  # edges: weight 0
            score = sum(p * w for p, w in zip(parts, (1.0, 1.0, 1.0, 0.0))) / 3.0
        previous = planes
        if score >= threshold and num - last_cut >= min_len:
            last_cut = num
            cuts.append(num)
    n = len(frames_rgb)
    if not cuts:
        return [(0, n)]  # get_scene_list is empty: (base timecode, current timecode)
    bounds = [0] + cuts + [n - 1]  # the last scene ends at the video's position: the last frame's index
    return [(bounds[k], bounds[k + 1]) for k in range(len(bounds) - 1)]


def _iou(a, b) -> float:
    xa, ya, xb, yb = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0, xb - xa) * max(0, yb - ya)
    return inter / float((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def track_faces(scene_faces: list[list[tuple]], min_track: int = 50, num_failed_det: int = 25,
                min_face_size: float = 100) -> list[dict]:
    """Their track loop: one pass per track over the scene's remaining faces (frame, box)."""
    tracks = []
    while True:
        chain = []
        for per_frame in scene_faces:
            for face in per_frame:  # faces are removed from the list being walked, as theirs
                if not chain:
                    chain.append(face)
                    per_frame.remove(face)
                elif face[0] - chain[-1][0] <= num_failed_det:
                    if _iou(face[1], chain[-1][1]) > 0.5:
                        chain.append(face)
                        per_frame.remove(face)
                        continue
                else:
                    break
        if not chain:
            return tracks
        if len(chain) <= min_track:
            continue
        numbers = np.array([f[0] for f in chain])
        boxes = np.array([np.array(f[1]) for f in chain])
        frames = np.arange(numbers[0], numbers[-1] + 1)
        columns = [interp1d(numbers, boxes[:, c])(frames) for c in range(4)]
        interpolated = np.stack(columns, axis=1)
        width = np.mean(interpolated[:, 2] - interpolated[:, 0])
        height = np.mean(interpolated[:, 3] - interpolated[:, 1])
        if max(width, height) > min_face_size:
            tracks.append({"frame": frames, "bbox": interpolated})


def crop_track(track: dict, frames_rgb: np.ndarray, crop_scale: float = 0.4) -> list[np.ndarray]:
    """Their crop_video's images (BGR, before the mp4v writer)."""
    sizes, ys, xs = [], [], []
    for box in track["bbox"]:
        sizes.append(max((box[3] - box[1]), (box[2] - box[0])) / 2)
        ys.append((box[1] + box[3]) / 2)
        xs.append((box[0] + box[2]) / 2)
    sizes = signal.medfilt(sizes, kernel_size=13)
    xs = signal.medfilt(xs, kernel_size=13)
    ys = signal.medfilt(ys, kernel_size=13)
    out = []
    for k, number in enumerate(track["frame"]):
        bs = sizes[k]
        bsi = int(bs * (1 + 2 * crop_scale))
        padded = np.pad(_bgr(frames_rgb[number]), ((bsi, bsi), (bsi, bsi), (0, 0)), "constant",
                        constant_values=(110, 110))
        my, mx = ys[k] + bsi, xs[k] + bsi
        face = padded[int(my - bs):int(my + bs * (1 + 2 * crop_scale)),
                      int(mx - bs * (1 + crop_scale)):int(mx + bs * (1 + crop_scale))]
        out.append(cv2.resize(face, (224, 224)))
    return out


def latentsync_tracks(frames_rgb: np.ndarray, faces: list[list[tuple]], min_track: int = 50) -> list[dict]:
    """Every kept face track of the clip (scene by scene), from the given faces."""
    dets = []
    for number, frame_faces in enumerate(faces):
        dets.append([(number, box) for box in s3fd_post(frame_faces)])
    kept = []
    for start, stop in scene_list(frames_rgb):
        if stop - start >= min_track:
            kept.extend(track_faces(dets[start:stop], min_track=min_track))
    return kept


def latentsync(state_dict, frames_rgb: np.ndarray, faces: list[list[tuple]], audio_int16: np.ndarray,
               min_track: int = 50) -> dict:
    """LSE-C averaged over tracks (their output), offset int(mean), and the mean distance."""
    tracks = latentsync_tracks(frames_rgb, faces, min_track)
    if not tracks:
        return {"excluded": True, "tracks": []}
    per_track = []
    for track in tracks:
        images = crop_track(track, frames_rgb)
        first, last = int(track["frame"][0]), int(track["frame"][-1])
        span = audio_int16[first * 640:(last + 1) * 640]
        assert math.floor(len(span) / 640) >= 6, "the reference expects audio under every track"
        per_track.append(evaluate(state_dict, _as_rgb_for_evaluate(images), span))
    return {"lse_c": statistics.fmean([r["lse_c"] for r in per_track]),
            "lse_d": statistics.fmean([r["lse_d"] for r in per_track]),
            "av_offset": float(int(statistics.fmean([r["av_offset"] for r in per_track]))),
            "tracks": [(int(t["frame"][0]), int(t["frame"][-1])) for t in tracks],
            "per_track": per_track}
