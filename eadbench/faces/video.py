"""Video-aware MTCNN detection: the ``mtcnn-track`` tracking protocol's detector.

Full MTCNN (P-Net over an image pyramid, then R-Net and O-Net) on every frame is about half the
cost of scoring a real clip. In a talking-head video the face moves a few pixels between frames,
so ``VideoDetector`` runs the full detector only on **key frames** and, in between, follows each
face with MTCNN's own R-Net and O-Net on one window: the key-frame box moved to the previous
frame's centre, the refinement's bias measured on the key frame taken off (a 24x24 and a 48x48
crop, a few milliseconds; the same networks, thresholds and box regression as the full
detector). A frame is a key frame when

* ``key_every`` frames have passed since the last one (drift never outlives it);
* it is a scene cut: its 32x32 grey thumbnail differs from the previous frame's by more than
  ``cut`` grey levels on average;
* a face refined from the previous frame scores below ``min_score`` on O-Net or is lost
  (then this frame is detected in full, so a lost face costs one full detection).

Key frames build a pyramid whose smallest face is ``min_face_fraction`` of the frame's shorter
side (snapped to one of MTCNN's own levels, at least 20 px): talking-head faces are large, and
the default 20 px minimum builds ~10 pyramid levels on a 512x512 frame, the largest of them the
costly ones. When that pyramid finds no face the full one runs, so small faces are still found,
at the old cost.

Faces between key frames are the key frame's faces followed one by one, so the number of faces
(for the tracker's multi-face count) changes only at key frames or when a followed face is lost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from eadbench.faces.detect import Face, detect_batch, iou
from eadbench.weights import WeightStore

THUMB = 32  # side of the grey thumbnail compared for scene cuts
MIN_FACE, FACTOR = 20.0, 0.709  # MTCNN's pyramid: smallest face, scale step


@dataclass(frozen=True)
class KeyFramePolicy:
    key_every: int  # a full detection at least every this many frames
    min_face_fraction: float  # key frames' smallest face, as a fraction of the frame's shorter side
    min_score: float  # a followed face scoring below this on O-Net calls for a full detection
    cut: float  # mean absolute grey difference (0-255) of 32x32 thumbnails that marks a scene cut

    def to_dict(self) -> dict:
        return {"key_every": self.key_every, "min_face_fraction": self.min_face_fraction,
                "min_score": self.min_score, "scene_cut": self.cut}


def _thumb(image: np.ndarray) -> np.ndarray:
    small = cv2.resize(image, (THUMB, THUMB), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)


def pyramid_min_face(size: float) -> float:
    """The largest smallest-face at most ``size`` whose pyramid levels are levels of MTCNN's own
    (20 px, step 0.709), so a reduced pyramid sees the face at the same scales as the full one."""
    return MIN_FACE / FACTOR ** max(0, math.floor(math.log(max(size, MIN_FACE) / MIN_FACE) / -math.log(FACTOR)))


def refine(image: np.ndarray, boxes: np.ndarray, model) -> list[Face]:
    """MTCNN's second and third stages (R-Net, O-Net, their thresholds and box regression) on one
    square window around each of ``boxes`` (k, 4) in ``image`` (RGB uint8), with ``model``
    (``eadbench.nets.mtcnn.mtcnn``): the faces that pass both, best score first, in the image's
    pixels. A window no face passes gives nothing."""
    import torch
    from facenet_pytorch.models.utils.detect_face import bbreg, imresample, pad, rerec

    h, w = image.shape[:2]
    img = torch.as_tensor(np.ascontiguousarray(image), device=model.device).permute(2, 0, 1)[None].float()
    b = torch.as_tensor(np.c_[boxes, np.zeros(len(boxes))], dtype=torch.float32, device=model.device)
    points = None
    with torch.inference_mode():
        for stage, (net, size) in enumerate(((model.rnet, 24), (model.onet, 48))):
            b = rerec(b)
            y, ey, x, ex = pad(b, w, h)
            ok = [k for k in range(len(b)) if ey[k] > y[k] - 1 and ex[k] > x[k] - 1]
            if not ok:
                return []
            b = b[ok]
            crops = torch.cat([imresample(img[:, :, y[k] - 1:ey[k], x[k] - 1:ex[k]], (size, size)) for k in ok])
            out = net((crops - 127.5) * 0.0078125)
            score = out[-1][:, 1]
            keep = score > model.thresholds[stage + 1]
            b = torch.cat([b[keep, :4], score[keep, None]], dim=1)
            if stage == 1:  # O-Net's landmarks are relative to its input window
                wi, hi = (b[:, 2] - b[:, 0] + 1)[:, None], (b[:, 3] - b[:, 1] + 1)[:, None]
                lm = out[1][keep]
                points = torch.stack([wi * lm[:, :5] + b[:, :1] - 1, hi * lm[:, 5:] + b[:, 1:2] - 1], dim=2)
            b = bbreg(b, out[0][keep])
            if not len(b):
                return []
    faces = [Face(bi[:4].astype(np.float64), float(bi[4]), pi.astype(np.float64))
             for bi, pi in zip(b.cpu().numpy(), points.cpu().numpy())]
    return sorted(faces, key=lambda f: -f.score)


class VideoDetector:
    """Faces of consecutive frames of one video (call with the frames in order; state carries over
    between calls): full MTCNN on key frames, the previous faces refined in between."""

    def __init__(self, policy: KeyFramePolicy, store: WeightStore | None = None):
        from eadbench.nets.mtcnn import mtcnn

        self.policy, self.store, self.model = policy, store, mtcnn(store)
        self.faces: list[Face] = []
        self.anchors: list[tuple[np.ndarray, np.ndarray]] = []  # per face: key-frame box, refinement bias
        self.thumb: np.ndarray | None = None
        self.since_key = 0
        self.key_frames = 0  # frames detected in full (for the record and the tests)
        self.frames = 0

    def __call__(self, images: list[np.ndarray]) -> list[list[Face]]:
        return [self.detect(im) for im in images]

    def detect(self, image: np.ndarray) -> list[Face]:
        thumb = _thumb(image)
        cut = self.thumb is not None and float(np.abs(thumb - self.thumb).mean()) > self.policy.cut
        self.thumb = thumb
        self.frames += 1
        faces = []
        if self.faces and not cut and self.since_key < self.policy.key_every:
            faces = self._follow(image)
        if faces is None or not faces:
            faces = self._full(image)
        self.faces = faces
        return faces

    def _follow(self, image: np.ndarray) -> list[Face] | None:
        """Each face of the previous frame refined in this one; None when one is lost or unsure.
        The window refined is the face's key-frame box moved to the previous frame's centre (so
        sizes do not drift from frame to frame), and the refinement's own bias on the key frame
        (R-Net and O-Net see a window unlike the full detector's) is taken off."""
        out = []
        for prev, (anchor, bias) in zip(self.faces, self.anchors):
            window = anchor + np.tile(_centre(prev.box) - _centre(anchor), 2)
            found = refine(image, window[None], self.model)
            if not found or found[0].score < self.policy.min_score or iou(found[0].box, window) < 0.3:
                return None
            shift = bias * _size(anchor)
            out.append(Face(found[0].box - shift, found[0].score, found[0].landmarks - _centre(shift)))
        self.since_key += 1
        return out

    def _calibrate(self, image: np.ndarray, faces: list[Face]) -> None:
        self.anchors = []
        for f in faces:
            found = refine(image, f.box[None], self.model)
            bias = (found[0].box - f.box) / _size(f.box) if found else np.zeros(4)
            self.anchors.append((f.box, bias))

    def _full(self, image: np.ndarray) -> list[Face]:
        self.key_frames += 1
        self.since_key = 1
        min_face = pyramid_min_face(self.policy.min_face_fraction * min(image.shape[:2]))
        faces = detect_batch([image], self.store, min_face=min_face)[0]
        if not faces and min_face > MIN_FACE:
            faces = detect_batch([image], self.store)[0]
        self._calibrate(image, faces)
        return faces


def _centre(box: np.ndarray) -> np.ndarray:
    return np.array([box[0] + box[2], box[1] + box[3]]) / 2


def _size(box: np.ndarray) -> float:
    return float(max(box[2] - box[0], box[3] - box[1]))
