"""Animate real face photos (scikit-image's astronaut and LFW faces) into talking faces.

Real photos keep detectors and expression classifiers meaningful. A portrait's landmarks come
from the project's own detector (MTCNN); everything else is smooth local warps (cv2.remap)
around them: the jaw and lower lip drop with the mouth opening of each frame (a dark inner
mouth appears between the lips), and the clip's emotion moves mouth corners, lips, brows and
eyelids with an amplitude set by its intensity. Small head motion keeps the video alive.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np


@dataclass(frozen=True)
class Portrait:
    image: np.ndarray  # (S, S, 3) uint8 RGB
    eyes: np.ndarray  # (2, 2) left, right eye centres (x, y)
    nose: np.ndarray  # (2,)
    mouth: np.ndarray  # (2, 2) left, right mouth corners
    source: str

    @property
    def eye_dist(self) -> float:
        return float(np.linalg.norm(self.eyes[1] - self.eyes[0]))

    @property
    def mouth_width(self) -> float:
        return float(np.linalg.norm(self.mouth[1] - self.mouth[0]))

    @property
    def mouth_centre(self) -> np.ndarray:
        return self.mouth.mean(axis=0)


def _frame_face(img: np.ndarray, size: int, source: str) -> Portrait | None:
    """Square crop around the detected face (face ~55% of the frame), landmarks mapped."""
    from eadbench.faces import detect_faces

    found = detect_faces(img)
    if not found:
        return None
    f = found[0]
    cx, cy = (f.box[0] + f.box[2]) / 2, (f.box[1] + f.box[3]) / 2
    side = 1.8 * max(f.box[2] - f.box[0], f.box[3] - f.box[1])
    x0, y0 = cx - side / 2, cy - side / 2 + 0.03 * side
    m = np.array([[size / side, 0, -x0 * size / side], [0, size / side, -y0 * size / side]])
    out = cv2.warpAffine(img, m, (size, size), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    lm = f.landmarks @ m[:, :2].T + m[:, 2]
    again = detect_faces(out)  # refine landmarks in the final frame
    if again:
        lm = again[0].landmarks
    return Portrait(out, lm[0:2].copy(), lm[2].copy(), lm[3:5].copy(), source)


@lru_cache(maxsize=64)
def portrait(index: int, size: int = 256) -> Portrait:
    """Portrait ``index``: 0 is the astronaut, others are LFW faces that the detector finds."""
    import skimage.data

    if index == 0:
        p = _frame_face(skimage.data.astronaut(), size, "skimage.data.astronaut")
        assert p is not None
        return p
    lfw = skimage.data.lfw_subset()
    found = 0
    for j in range(len(lfw)):
        grey = cv2.resize((lfw[j] * 255).astype(np.uint8), (150, 150), interpolation=cv2.INTER_CUBIC)
        rgb = cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB)
        # a faint warm tint: LFW subset faces are grey
        rgb = np.clip(rgb.astype(np.float32) * np.array([1.06, 1.0, 0.92]), 0, 255).astype(np.uint8)
        rgb = _soft_background(rgb, 60)
        p = _frame_face(rgb, size, f"skimage.data.lfw_subset[{j}]")
        if p is None:
            continue
        found += 1
        if found == index:
            return p
    raise RuntimeError("not enough detectable LFW faces")


def _soft_background(img: np.ndarray, pad: int) -> np.ndarray:
    """Embed a tight face crop in a blurred, feathered surround instead of streaky edge copies."""
    big = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_REFLECT)
    bg = cv2.GaussianBlur(big, (0, 0), 18)
    mask = np.zeros(big.shape[:2], np.float32)
    mask[pad + 8:-pad - 8, pad + 8:-pad - 8] = 1
    mask = cv2.GaussianBlur(mask, (0, 0), 8)[..., None]
    return (big * mask + bg * (1 - mask)).astype(np.uint8)


def _bump(shape, centre, radius, dx, dy):
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    g = np.exp(-((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2) / (2 * radius ** 2))
    return np.stack([dx * g, dy * g])


def _mouth_field(p: Portrait) -> np.ndarray:
    """Displacement for a mouth opening of 1 px (scaled per frame)."""
    shape = p.image.shape[:2]
    mc, mw = p.mouth_centre, p.mouth_width
    f = _bump(shape, mc + [0, 0.35 * mw], 0.42 * mw, 0, 1.0)
    f += _bump(shape, mc + [0, 1.0 * mw], 0.6 * mw, 0, 0.55)
    f += _bump(shape, mc - [0, 0.2 * mw], 0.25 * mw, 0, -0.2)
    return f


def _emotion_field(p: Portrait, emotion: str, strength: float) -> tuple[np.ndarray, float]:
    """(displacement field, baseline mouth opening as a fraction of mouth width)."""
    shape = p.image.shape[:2]
    mw, ed = p.mouth_width, p.eye_dist
    (lx, ly), (rx, ry) = p.mouth
    el, er = p.eyes
    brow_l, brow_r = el - [0, 0.32 * ed], er - [0, 0.32 * ed]
    inner_l, inner_r = brow_l + [0.18 * ed, 0], brow_r - [0.18 * ed, 0]
    s = strength
    f = np.zeros((2, *shape), np.float32)
    base_open = 0.0

    def add(c, r, dx, dy):
        nonlocal f
        f = f + _bump(shape, c, r, dx * s, dy * s)

    def widen_eyes(a):
        for e in (el, er):
            add(e - [0, 0.12 * ed], 0.14 * ed, 0, -a * ed)
            add(e + [0, 0.1 * ed], 0.1 * ed, 0, 0.4 * a * ed)

    if emotion == "happy":
        add((lx, ly), 0.28 * mw, -0.12 * mw, -0.22 * mw)
        add((rx, ry), 0.28 * mw, 0.12 * mw, -0.22 * mw)
        add(p.mouth_centre + [0, 0.6 * mw], 0.5 * mw, 0, 0.04 * mw)
        for e in (el, er):  # smiling eyes: lower lids up
            add(e + [0, 0.14 * ed], 0.12 * ed, 0, -0.05 * ed)
        base_open = 0.12 * s
    elif emotion == "sad":
        add((lx, ly), 0.28 * mw, 0.03 * mw, 0.2 * mw)
        add((rx, ry), 0.28 * mw, -0.03 * mw, 0.2 * mw)
        add(inner_l, 0.16 * ed, 0, -0.14 * ed)
        add(inner_r, 0.16 * ed, 0, -0.14 * ed)
    elif emotion == "angry":
        add(brow_l, 0.22 * ed, 0.06 * ed, 0.14 * ed)
        add(brow_r, 0.22 * ed, -0.06 * ed, 0.14 * ed)
        add(inner_l, 0.14 * ed, 0.06 * ed, 0.1 * ed)
        add(inner_r, 0.14 * ed, -0.06 * ed, 0.1 * ed)
        add((lx, ly), 0.25 * mw, 0.08 * mw, 0.05 * mw)
        add((rx, ry), 0.25 * mw, -0.08 * mw, 0.05 * mw)
    elif emotion == "surprised":
        add(brow_l, 0.25 * ed, 0, -0.25 * ed)
        add(brow_r, 0.25 * ed, 0, -0.25 * ed)
        widen_eyes(0.08)
        base_open = 0.35 * s
    elif emotion == "fear":
        add(brow_l, 0.22 * ed, 0.04 * ed, -0.18 * ed)
        add(brow_r, 0.22 * ed, -0.04 * ed, -0.18 * ed)
        widen_eyes(0.07)
        add((lx, ly), 0.25 * mw, -0.14 * mw, 0.06 * mw)
        add((rx, ry), 0.25 * mw, 0.14 * mw, 0.06 * mw)
        base_open = 0.15 * s
    elif emotion == "disgusted":
        add(p.mouth_centre - [0, 0.12 * mw], 0.3 * mw, 0, -0.16 * mw)
        add(p.nose + [0, 0.05 * ed], 0.2 * ed, 0, -0.06 * ed)
        add(brow_l, 0.2 * ed, 0.03 * ed, 0.08 * ed)
        add(brow_r, 0.2 * ed, -0.03 * ed, 0.08 * ed)
        add((lx, ly), 0.25 * mw, 0, 0.08 * mw)
        add((rx, ry), 0.25 * mw, 0, 0.08 * mw)
    elif emotion == "contempt":
        add((rx, ry), 0.25 * mw, 0.1 * mw, -0.2 * mw)
    elif emotion == "calm":
        add((lx, ly), 0.28 * mw, -0.03 * mw, -0.06 * mw)
        add((rx, ry), 0.28 * mw, 0.03 * mw, -0.06 * mw)
    return f, base_open


class FaceAnimator:
    """Renders frames of one portrait with one emotion; mouth opening varies per frame."""

    def __init__(self, p: Portrait, emotion: str, intensity: float, seed: int = 0):
        self.p = p
        h, w = p.image.shape[:2]
        self.grid = np.stack(np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)))
        self.mouth = _mouth_field(p)
        self.emo, self.base_open = _emotion_field(p, emotion, 0.5 + 0.7 * intensity)
        self.max_open = 0.42 * p.mouth_width
        rng = np.random.default_rng(seed)
        self.motion = rng.uniform(0, 2 * np.pi, 3), rng.uniform(0.15, 0.35, 3)

    def render(self, opening: float, t: float) -> np.ndarray:
        open_px = min(1.0, opening + self.base_open) * self.max_open
        d = self.emo + open_px * self.mouth
        maps = (self.grid - d).astype(np.float32)
        img = cv2.remap(self.p.image, maps[0], maps[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        if open_px > 0.5:
            img = self._inner_mouth(img, open_px)
        return self._head_motion(img, t)

    def _inner_mouth(self, img: np.ndarray, open_px: float) -> np.ndarray:
        mc, mw = self.p.mouth_centre, self.p.mouth_width
        centre = (float(mc[0] + self.emo[0, int(mc[1]), int(mc[0])]),
                  float(mc[1] + self.emo[1, int(mc[1]), int(mc[0])] + 0.45 * open_px))
        axes = (max(1.0, 0.36 * mw), max(0.5, 0.5 * open_px))
        mask = np.zeros(img.shape[:2], np.float32)
        cv2.ellipse(mask, (int(round(centre[0] * 4)), int(round(centre[1] * 4))),
                    (int(round(axes[0] * 4)), int(round(axes[1] * 4))), 0, 0, 360, 1.0, -1, cv2.LINE_AA, shift=2)
        mask = cv2.GaussianBlur(mask, (0, 0), 1.0)[..., None]
        dark = np.array([45, 18, 22], np.float32)
        out = img.astype(np.float32) * (1 - 0.85 * mask) + dark * 0.85 * mask
        return out.astype(np.uint8)

    def _head_motion(self, img: np.ndarray, t: float) -> np.ndarray:
        (p1, p2, p3), (f1, f2, f3) = self.motion
        h, w = img.shape[:2]
        angle = 1.5 * np.sin(2 * np.pi * f1 * t + p1)
        tx, ty = 2.0 * np.sin(2 * np.pi * f2 * t + p2), 1.5 * np.sin(2 * np.pi * f3 * t + p3)
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        m[:, 2] += (tx, ty)
        return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
