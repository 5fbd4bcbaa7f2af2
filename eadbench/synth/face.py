"""Animate real face photos into talking faces whose expressions are facial action units (FACS).

Real photos keep detectors and expression classifiers meaningful (``eadbench.synth.photos``).
An emotion is a set of action units (``EMOTION_AUS``: sad is AU1+4+11+15+17+24+43, surprise
AU1+2+5+25+26, ...) scaled by the clip's intensity. Each action unit moves skin with smooth warps
around the photo's landmarks and, where the real movement creases skin, draws the crease
(forehead lines for raised brows, the glabella furrow for lowered brows, nasolabial folds for
a smile or a raised upper lip, nose wrinkles, the chin's sulcus). Every emotion has a lower-face
part (lip corners, pressed or stretched lips, raised upper lip, dropped jaw) because generators
that inpaint only the lower half of the face must be able to show it there.

The mouth is a two-layer model: the upper lip and everything below it move apart along the
lip line, the jaw dropping with the clip's speech frame by frame (lip-synced by construction),
added to the emotion's own mouth shape (parted lips for a smile, dropped jaw for surprise,
pressed lips for anger); the gap between the lips is painted as a mouth interior (upper teeth,
lower teeth where the emotion bares them, dark cavity). A photo taken with parted lips is
closed at rest first. Small head motion keeps the video alive. Everything is deterministic
numpy/OpenCV arithmetic on constants: no detector runs while rendering.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import cv2
import numpy as np

from eadbench.errors import ConfigError
from eadbench.synth import photos

#: action units per emotion (weights at full intensity). Numbers are FACS AU codes; "14R" is
#: a unilateral AU14 on the image's right side. The sets follow FACS/EMFACS prototypes; the
#: weights were tuned until the offline fer classifier read the test speakers' faces
#: (benchmarks/synth_emotions.py). fer hardly ever outputs disgust, on real faces too.
EMOTION_AUS: dict[str, dict[str, float]] = {
    "neutral": {},
    "happy": {"6": 1.0, "12": 1.2, "25": 0.8},
    "sad": {"1": 1.3, "4": 1.2, "11": 0.8, "15": 1.2, "17": 0.8, "43": 1.2, "24": 0.8},
    "angry": {"4": 1.4, "5": 0.4, "7": 0.6, "10": 0.8, "17": 0.6, "23": 1.2, "25": 0.8, "26": 0.4},
    "surprised": {"1": 1.0, "2": 1.0, "5": 1.0, "25": 0.4, "26": 1.0},
    "fear": {"1": 1.0, "2": 0.8, "4": 0.9, "5": 0.8, "7": 0.6, "20": 1.0, "25": 0.8, "27": 1.0},
    "disgusted": {"4": 0.6, "7": 0.5, "9": 1.2, "10": 1.2, "15": 0.4, "17": 0.8},
    "contempt": {"12R": 0.6, "14R": 1.2},
    "calm": {"12": 0.25},
}


def action_units(emotion: str, intensity: float) -> dict[str, float]:
    """The clip's action units and their scale (ground truth for the written dataset)."""
    k = strength(intensity) if emotion != "neutral" else 0.0
    return {au: round(w * k, 3) for au, w in EMOTION_AUS[emotion].items()}


def strength(intensity: float) -> float:
    """Action-unit scale for an intensity in (0, 1] (MEAD level / 3): level 1 is already visible."""
    return 0.5 + 0.55 * float(intensity)


@dataclass(frozen=True)
class Portrait:
    image: np.ndarray  # (S, S, 3) uint8 RGB
    pts: dict  # landmark name -> (2,) float pixels
    source: str
    gender: str = "?"
    rest: tuple = ()
    softness: float = 0.6  # blur (pixels) matching the photo's own resolution

    @property
    def eyes(self) -> np.ndarray:
        p = self.pts
        return np.stack([(p["eye_l_out"] + p["eye_l_in"]) / 2, (p["eye_r_in"] + p["eye_r_out"]) / 2])

    @property
    def nose(self) -> np.ndarray:
        return self.pts["nose_tip"]

    @property
    def mouth(self) -> np.ndarray:
        return np.stack([self.pts["mouth_l"], self.pts["mouth_r"]])

    @property
    def eye_dist(self) -> float:
        return float(np.linalg.norm(self.eyes[1] - self.eyes[0]))

    @property
    def mouth_width(self) -> float:
        return float(np.linalg.norm(self.mouth[1] - self.mouth[0]))

    @property
    def mouth_centre(self) -> np.ndarray:
        return (self.pts["lip_up_in"] + self.pts["lip_lo_in"]) / 2


@lru_cache(maxsize=64)
def portrait(index: int, size: int = 256) -> Portrait:
    """Portrait ``index`` (cycling through ``photos.PHOTOS``) framed at ``size`` pixels."""
    ph = photos.PHOTOS[index % len(photos.PHOTOS)]
    pts = {n: np.array(xy, np.float64) * size / 1000 for n, xy in zip(photos.NAMES, ph.points)}
    soft = 0.5 * ph.upscale * size / ph.frame[2]
    image = photos.framed(ph.key, ph.frame, size)
    for a in (image, *pts.values()):  # cached and shared: nobody may draw on them
        a.setflags(write=False)
    return Portrait(image, pts, ph.source, ph.gender, ph.rest, max(0.6, soft))


@dataclass
class Expression:
    """What a set of action units does to one portrait: skin motion, creases, mouth shape."""

    bumps: list = field(default_factory=list)  # (x, y, sigma, dx, dy): forward motion, pixels
    creases: list = field(default_factory=list)  # (points (N, 2), width, depth): darker skin lines
    shadows: list = field(default_factory=list)  # (x, y, sigma, depth): soft darkening
    lift: float = 0.0  # upper lip raised off the teeth, fraction of mouth width
    jaw: float = 0.0  # jaw drop at rest, fraction of mouth width
    speech_gain: float = 1.0  # how far speech opens the mouth (pressed lips open less)
    lower_teeth: float = 0.0  # 0..1 how much of the lower teeth the lower lip uncovers
    upper_teeth: float = 0.05  # how far the upper teeth reach below the rest lip line (fraction of M)
    square: float = 0.0  # 0 a lens-shaped mouth opening, 1 a rectangular one (stretched lips)


def _arc(a, b, sag: float, n: int = 9) -> np.ndarray:
    """Points from a to b bowed sideways by ``sag`` (pixels, to the left of a->b)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    t = np.linspace(0, 1, n)[:, None]
    d = b - a
    normal = np.array([d[1], -d[0]]) / (np.linalg.norm(d) + 1e-9)
    return a + t * d + (4 * t * (1 - t)) * sag * normal


class _Builder:
    """Adds one action unit at a time to an Expression, in units of the portrait's face."""

    def __init__(self, p: Portrait):
        self.q, self.E, self.M = p.pts, p.eye_dist, p.mouth_width
        q = self.q
        self.mid = (q["glabella"][0] + q["subnasale"][0] + q["lip_up_out"][0] + q["chin"][0]) / 4
        self.x = Expression()

    def bump(self, c, sigma, dx, dy):
        self.x.bumps.append((float(c[0]), float(c[1]), sigma, dx, dy))

    def both(self, name, sigma, dx, dy):
        """A bump on each side; dx > 0 moves towards the face's midline."""
        self.bump(self.q[f"{name}_l"], sigma, dx, dy)
        self.bump(self.q[f"{name}_r"], sigma, -dx, dy)

    def crease(self, a, b, sag, width, depth, n=9):
        self.x.creases.append((_arc(a, b, sag, n), width, depth))

    def folds(self, depth, high=False):
        """Nasolabial folds from beside the nose wings to beside the mouth corners."""
        q, E = self.q, self.E
        for side, sgn in (("l", -1), ("r", 1)):
            a = q[f"ala_{side}"] + [sgn * 0.06 * E, -0.02 * E]
            b = q[f"mouth_{side}"] + [sgn * 0.09 * E, -0.04 * E if high else 0.02 * E]
            self.crease(a, b, -sgn * 0.05 * E, 0.045 * E, depth)

    # one method per action unit; k = weight x intensity scale
    def au1(self, k):  # inner brow raiser, central forehead lines
        q, E = self.q, self.E
        self.bump(q["brow_l_in"], 0.22 * E, 0.0, -0.13 * E * k)
        self.bump(q["brow_r_in"], 0.22 * E, 0.0, -0.13 * E * k)
        self.bump(q["brow_l_mid"], 0.2 * E, 0.0, -0.04 * E * k)
        self.bump(q["brow_r_mid"], 0.2 * E, 0.0, -0.04 * E * k)
        top = min(q["brow_l_in"][1], q["brow_r_in"][1])
        for j, h in enumerate((0.22, 0.36, 0.5)):
            y = top - h * E
            self.crease((self.mid - 0.3 * E, y), (self.mid + 0.3 * E, y), -0.03 * E, 0.035 * E,
                        0.22 * k * (1 - 0.2 * j))

    def au2(self, k):  # outer brow raiser, forehead lines across
        q, E = self.q, self.E
        for side in "lr":
            self.bump(q[f"brow_{side}_out"], 0.22 * E, 0.0, -0.13 * E * k)
            self.bump(q[f"brow_{side}_mid"], 0.22 * E, 0.0, -0.08 * E * k)
        top = min(q["brow_l_mid"][1], q["brow_r_mid"][1])
        for j, h in enumerate((0.28, 0.42, 0.56)):
            y = top - h * E + 0.05 * E
            self.crease((self.mid - 0.7 * E, y), (self.mid + 0.7 * E, y), 0.08 * E, 0.035 * E,
                        0.2 * k * (1 - 0.2 * j))

    def au4(self, k):  # brow lowerer: down and together, glabella furrows, shadowed lids
        q, E = self.q, self.E
        self.bump(q["brow_l_in"], 0.2 * E, 0.08 * E * k, 0.12 * E * k)
        self.bump(q["brow_r_in"], 0.2 * E, -0.08 * E * k, 0.12 * E * k)
        self.bump(q["brow_l_mid"], 0.22 * E, 0.03 * E * k, 0.07 * E * k)
        self.bump(q["brow_r_mid"], 0.22 * E, -0.03 * E * k, 0.07 * E * k)
        gy = (q["brow_l_in"][1] + q["brow_r_in"][1]) / 2
        for sgn in (-1, 1):
            gx = self.mid + sgn * 0.08 * E
            self.crease((gx - sgn * 0.01 * E, gy - 0.1 * E), (gx + sgn * 0.02 * E, gy + 0.14 * E),
                        sgn * 0.02 * E, 0.04 * E, 0.25 * k, 7)
        for side in "lr":
            c = (q[f"brow_{side}_in"] + q[f"lid_{side}_up"]) / 2
            self.x.shadows.append((*c, 0.16 * E, 0.12 * k))

    def au5(self, k):  # upper lid raiser: eyes wide
        for side in "lr":
            self.bump(self.q[f"lid_{side}_up"], 0.16 * self.E, 0.0, -0.075 * self.E * k)
            self.bump(self.q[f"lid_{side}_lo"], 0.14 * self.E, 0.0, 0.025 * self.E * k)

    def au6(self, k):  # cheek raiser: cheeks up, lower lids pushed up, crow's feet
        q, E = self.q, self.E
        for side, sgn in (("l", -1), ("r", 1)):
            self.bump(q[f"cheekbone_{side}"], 0.3 * E, 0.0, -0.06 * E * k)
            self.bump(q[f"lid_{side}_lo"], 0.13 * E, 0.0, -0.03 * E * k)
            o = q[f"eye_{side}_out"]
            for a in (-0.5, 0.0, 0.5):
                d = np.array([sgn * np.cos(a), np.sin(a)])
                self.crease(o + 0.1 * E * d, o + 0.25 * E * d, 0.0, 0.025 * E, 0.25 * k, 5)
            lo = q[f"lid_{side}_lo"]
            self.crease(lo + [-0.15 * E, 0.06 * E], lo + [0.15 * E, 0.06 * E], 0.03 * E, 0.03 * E, 0.15 * k)

    def au7(self, k):  # lid tightener
        for side in "lr":
            self.bump(self.q[f"lid_{side}_lo"], 0.13 * self.E, 0.0, -0.035 * self.E * k)
            self.bump(self.q[f"lid_{side}_up"], 0.13 * self.E, 0.0, 0.015 * self.E * k)

    def au9(self, k):  # nose wrinkler: nose wings up, wrinkles across the bridge, brows down
        q, E = self.q, self.E
        self.both("ala", 0.17 * E, 0.01 * E * k, -0.05 * E * k)
        self.bump(q["nasion"], 0.2 * E, 0.0, 0.03 * E * k)
        self.bump(q["brow_l_in"], 0.2 * E, 0.03 * E * k, 0.06 * E * k)
        self.bump(q["brow_r_in"], 0.2 * E, -0.03 * E * k, 0.06 * E * k)
        for h in (0.0, 0.08, 0.16):
            n = q["nasion"] + [0.0, h * E]
            self.crease(n - [0.12 * E, 0], n + [0.12 * E, 0], 0.02 * E, 0.025 * E, 0.3 * k, 5)
        self.folds(0.3 * k, high=True)

    def au10(self, k):  # upper lip raiser: upper teeth bared, squarer upper lip
        q, E, M = self.q, self.E, self.M
        for off in (-0.25, 0.25):
            self.bump(q["lip_up_out"] + [off * M, 0.0], 0.2 * M, 0.0, -0.035 * E * k)
        self.x.lift += 0.06 * k
        self.x.upper_teeth += 0.03 * k
        self.x.square += 0.3 * k
        self.folds(0.35 * k, high=True)

    def au11(self, k):  # nasolabial furrow deepener
        self.both("fold", 0.22 * self.E, 0.0, -0.02 * self.E * k)
        self.folds(0.4 * k)

    def au12(self, k):  # lip corner puller
        E, M = self.E, self.M
        self.both("mouth", 0.3 * M, -0.07 * E * k, -0.11 * E * k)
        self.both("fold", 0.3 * E, -0.02 * E * k, -0.04 * E * k)
        self.x.upper_teeth += 0.04 * k
        self.folds(0.45 * k)

    def au12R(self, k):  # lip corner puller on the image's right side only
        self.bump(self.q["mouth_r"], 0.3 * self.M, 0.07 * self.E * k, -0.1 * self.E * k)

    def au14R(self, k):  # dimpler on the image's right side only
        c, E = self.q["mouth_r"], self.E
        self.bump(c, 0.25 * self.M, 0.05 * E * k, -0.05 * E * k)
        self.crease(c + [0.07 * E, -0.1 * E], c + [0.07 * E, 0.08 * E], 0.03 * E, 0.03 * E, 0.35 * k, 7)
        self.x.shadows.append((*(c + [0.04 * E, 0.0]), 0.06 * E, 0.12 * k))

    def au15(self, k):  # lip corner depressor, lines down from the corners
        E = self.E
        self.both("mouth", 0.3 * self.M, 0.02 * E * k, 0.11 * E * k)
        self.x.upper_teeth -= 0.04 * k
        for side, sgn in (("l", -1), ("r", 1)):
            c = self.q[f"mouth_{side}"]
            self.crease(c + [sgn * 0.03 * E, 0.05 * E], c + [sgn * 0.06 * E, 0.3 * E], sgn * 0.02 * E,
                        0.035 * E, 0.25 * k)

    def au16(self, k):  # lower lip depressor: lower lip down off the lower teeth
        self.bump(self.q["lip_lo_out"], 0.25 * self.M, 0.0, 0.04 * self.E * k)
        self.x.jaw += 0.04 * k
        self.x.lower_teeth = max(self.x.lower_teeth, min(1.0, k))

    def au17(self, k):  # chin raiser: chin boss and lower lip pushed up, sulcus deepened
        q, E, M = self.q, self.E, self.M
        self.bump(q["chin_boss"], 0.35 * M, 0.0, -0.05 * E * k)
        self.bump(q["lip_lo_out"], 0.25 * M, 0.0, -0.03 * E * k)
        self.x.upper_teeth -= 0.02 * k
        sc = q["sulcus"] - [0.0, 0.02 * E]
        self.crease(sc - [0.25 * M, 0.0], sc + [0.25 * M, 0.0], 0.05 * E, 0.04 * E, 0.3 * k)
        self.x.shadows.append((*(q["chin_boss"] + [0, 0.05 * E]), 0.12 * E, 0.08 * k))

    def au20(self, k):  # lip stretcher: corners out and down, a wide rectangular mouth
        E, M = self.E, self.M
        self.both("mouth", 0.32 * M, -0.12 * E * k, 0.04 * E * k)
        self.bump(self.q["lip_up_out"], 0.22 * M, 0.0, 0.015 * E * k)
        self.x.lower_teeth = max(self.x.lower_teeth, min(1.0, k))
        self.x.upper_teeth -= 0.03 * k
        self.x.square += 0.7 * k
        for side, sgn in (("l", -1), ("r", 1)):
            c = self.q[f"mouth_{side}"]
            self.crease(c + [sgn * 0.08 * E, -0.06 * E], c + [sgn * 0.1 * E, 0.1 * E], sgn * 0.02 * E,
                        0.04 * E, 0.2 * k, 7)

    def au23(self, k):  # lip tightener: narrower, rolled lips
        E, M = self.E, self.M
        self.bump(self.q["lip_up_out"], 0.22 * M, 0.0, 0.025 * E * k)
        self.bump(self.q["lip_lo_out"], 0.22 * M, 0.0, -0.025 * E * k)
        self.both("mouth", 0.25 * M, 0.05 * E * k, 0.0)
        self.x.speech_gain *= max(0.6, 1 - 0.3 * k)

    def au24(self, k):  # lip presser: thinner lips, narrower mouth, opens less for speech
        E, M = self.E, self.M
        self.bump(self.q["lip_up_out"], 0.25 * M, 0.0, 0.04 * E * k)
        self.bump(self.q["lip_lo_out"], 0.25 * M, 0.0, -0.04 * E * k)
        self.both("mouth", 0.25 * M, 0.035 * E * k, 0.0)
        self.x.speech_gain *= max(0.45, 1 - 0.45 * k)
        self.x.upper_teeth -= 0.03 * k
        for side in "lr":
            self.x.shadows.append((*self.q[f"mouth_{side}"], 0.06 * E, 0.15 * k))

    def au25(self, k):  # lips part
        self.x.lift += 0.05 * k
        self.x.jaw += 0.05 * k

    def au26(self, k):  # jaw drop: relaxed lips follow the jaw into an oval, corners drawn in
        self.x.jaw += 0.3 * k
        self.both("mouth", 0.3 * self.M, 0.04 * self.E * k, 0.02 * self.E * k)
        self.x.upper_teeth -= 0.02 * k

    def au27(self, k):  # mouth stretch: wide open, lower teeth showing
        self.x.jaw += 0.45 * k
        self.x.lower_teeth = max(self.x.lower_teeth, 0.6 * min(1.0, k))

    def au43(self, k):  # lids droop (eyes half closing)
        for side in "lr":
            self.bump(self.q[f"lid_{side}_up"], 0.14 * self.E, 0.0, 0.035 * self.E * k)


ACTION_UNITS = tuple(n[2:] for n in dir(_Builder) if n.startswith("au"))


def expression(p: Portrait, aus: dict[str, float], s: float) -> Expression:
    """Action units ``aus`` (weights) at scale ``s`` on portrait ``p``."""
    b = _Builder(p)
    for au, w in aus.items():
        if au not in ACTION_UNITS:
            raise ConfigError(f"unknown action unit {au!r}; known: {', '.join(sorted(ACTION_UNITS))}")
        if w * s:
            getattr(b, f"au{au}")(w * s)
    return b.x


def _forward_field(shape, bumps) -> np.ndarray:
    """(2, H, W) forward skin motion: sum of Gaussian bumps, each evaluated in its 3-sigma window."""
    h, w = shape
    f = np.zeros((2, h, w), np.float32)
    for cx, cy, sig, dx, dy in bumps:
        if sig <= 0 or (dx == 0 and dy == 0):
            continue
        x0, x1 = max(0, int(cx - 3 * sig)), min(w, int(cx + 3 * sig) + 1)
        y0, y1 = max(0, int(cy - 3 * sig)), min(h, int(cy + 3 * sig) + 1)
        if x0 >= x1 or y0 >= y1:
            continue
        gx = np.exp(-((np.arange(x0, x1) - cx) ** 2) / (2 * sig ** 2)).astype(np.float32)
        gy = np.exp(-((np.arange(y0, y1) - cy) ** 2) / (2 * sig ** 2)).astype(np.float32)
        g = gy[:, None] * gx[None, :]
        f[0, y0:y1, x0:x1] += dx * g
        f[1, y0:y1, x0:x1] += dy * g
    return f


def _backward(forward: np.ndarray, iters: int = 4) -> np.ndarray:
    """Backward map d with source = x - d(x), inverting the forward motion by fixed-point steps."""
    h, w = forward.shape[1:]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    d = forward.copy()
    for _ in range(iters):
        sx, sy = gx - d[0], gy - d[1]
        d = np.stack([cv2.remap(forward[i], sx, sy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                      for i in range(2)])
    return d


def _shade(img: np.ndarray, x: Expression, blur: float) -> np.ndarray:
    """Creases and shadows on the rest face (they then move with the skin). A crease is a soft
    dark groove with a faint highlight on its convex side; ``blur`` is the photo's own softness
    in pixels, so that no crease is sharper than the skin it is drawn on."""
    h, w = img.shape[:2]
    dark = np.zeros((h, w), np.float32)
    light = np.zeros((h, w), np.float32)
    for pts, width, depth in x.creases:
        depth = min(float(depth), 0.45)
        if depth <= 0:
            continue
        pts = np.asarray(pts, np.float64)
        d = pts[-1] - pts[0]
        normal = np.array([-d[1], d[0]]) / (np.linalg.norm(d) + 1e-9)
        sig = max(0.6, width * 0.5, blur)
        for layer, off, amount in ((dark, 0.0, depth), (light, 1.6 * sig, 0.35 * depth)):
            m = np.zeros((h, w), np.float32)
            line = np.round((pts + off * normal) * 16).astype(np.int32)
            for i in range(len(line) - 1):  # deepest in the middle, fading out at both ends
                v = float(np.sin(np.pi * (i + 0.5) / (len(line) - 1)) ** 0.6)
                cv2.line(m, tuple(map(int, line[i])), tuple(map(int, line[i + 1])), v,
                         max(1, int(round(width * 0.5))), cv2.LINE_AA, shift=4)
            m = cv2.GaussianBlur(m, (0, 0), sig)
            np.maximum(layer, amount * m / max(1e-6, float(m.max())), out=layer)
    for cx, cy, sig, depth in x.shadows:
        dark += _forward_field((h, w), [(cx, cy, max(sig, blur), 0.0, depth)])[1]
    if not dark.any():
        return img
    gain = (1 - np.clip(dark, 0, 0.7)) * (1 + np.clip(light - dark, 0, 0.3))
    return np.clip(img.astype(np.float32) * gain[..., None] + 0.5, 0, 255).astype(np.uint8)


class FaceAnimator:
    """Renders frames of one portrait with one emotion; mouth opening varies per frame."""

    def __init__(self, p: Portrait, emotion: str, intensity: float, seed: int = 0):
        self.p = p
        h, w = p.image.shape[:2]
        self.shape = (h, w)
        if emotion not in EMOTION_AUS:
            raise ConfigError(f"no facial expression for emotion {emotion!r}; "
                              f"known: {', '.join(EMOTION_AUS)}")
        rest = expression(p, dict(p.rest), 1.0)
        x = expression(p, EMOTION_AUS[emotion], strength(intensity) if emotion != "neutral" else 0.0)
        x.bumps = rest.bumps + x.bumps
        x.creases, x.shadows = rest.creases + x.creases, rest.shadows + x.shadows
        self.x = x
        self.base = _shade(p.image, x, p.softness)
        self.emo = _backward(_forward_field((h, w), x.bumps))
        self.grid = np.stack(np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)))
        q = p.pts
        self.M = p.mouth_width
        self.max_open = 0.45 * self.M
        # lip line through the corners and the lips' meeting point; gap of a photo with parted lips
        (xl, yl), (xr, yr) = q["mouth_l"], q["mouth_r"]
        xc, yc = self.p.mouth_centre
        self.lip = np.polyfit([xl, xc, xr], [yl, yc, yr], 2)
        self.xc, self.half = xc, 0.5 * (xr - xl)
        self.gap0 = max(0.0, float(q["lip_lo_in"][1] - q["lip_up_in"][1]) - 0.01 * self.M)
        self.chin_y = float(q["chin"][1])
        cheeks = []
        for side in "lr":
            cx, cy = (int(v) for v in q[f"cheek_{side}"])
            cheeks.append(p.image[cy - 2:cy + 3, cx - 2:cx + 3].reshape(-1, 3))
        skin = np.median(np.concatenate(cheeks), axis=0).astype(np.float32)
        lum = float(skin.mean())
        white = min(235.0, 40 + 1.1 * lum)
        self.teeth = 0.35 * skin + 0.65 * np.array([white, white * 0.97, white * 0.9], np.float32)
        self.cavity = skin * np.array([0.32, 0.2, 0.22], np.float32)
        rng = np.random.default_rng(seed)
        self.motion = rng.uniform(0, 2 * np.pi, 3), rng.uniform(0.15, 0.35, 3)
        # where the mouth model can move anything (head motion and emotion included)
        M = self.M
        self.roi = (max(0, int(yc - 1.3 * M)), min(h, int(self.chin_y + 2.4 * M)),
                    max(0, int(xc - 2.3 * M)), min(w, int(xc + 2.3 * M)))

    def render(self, opening: float, t: float) -> np.ndarray:
        h, w = self.shape
        # output pixel -> head motion (inverse similarity) -> emotion -> mouth -> rest photo
        (p1, p2, p3), (f1, f2, f3) = self.motion
        angle = 1.5 * np.sin(2 * np.pi * f1 * t + p1)
        tx, ty = 2.0 * np.sin(2 * np.pi * f2 * t + p2), 1.5 * np.sin(2 * np.pi * f3 * t + p3)
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        m[:, 2] += (tx, ty)
        inv = cv2.invertAffineTransform(m).astype(np.float32)
        gx, gy = self.grid
        x1 = inv[0, 0] * gx + inv[0, 1] * gy + inv[0, 2]
        y1 = inv[1, 0] * gx + inv[1, 1] * gy + inv[1, 2]
        x2 = x1 - cv2.remap(self.emo[0], x1, y1, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        y2 = y1 - cv2.remap(self.emo[1], x1, y1, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        r0, r1, c0, c1 = self.roi
        ys, gap, inner = self._mouth(x2[r0:r1, c0:c1], y2[r0:r1, c0:c1], float(opening))
        y2[r0:r1, c0:c1] = ys
        img = cv2.remap(self.base, x2, y2, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        if gap is not None:
            a = gap[..., None]
            roi = img[r0:r1, c0:c1].astype(np.float32)
            img[r0:r1, c0:c1] = (roi * (1 - a) + inner * a + 0.5).clip(0, 255).astype(np.uint8)
        return img

    def _mouth(self, x, y, opening):
        """Two-layer mouth on the region ``self.roi``: (vertical source coordinate, gap alpha or
        None, interior colours)."""
        x_ = self.x
        M = self.M
        speech = max(0.0, opening) * self.max_open * x_.speech_gain
        lift = x_.lift * M + 0.15 * speech
        drop = x_.jaw * M + 0.85 * speech
        g2 = self.gap0 / 2
        u = (x - self.xc) / (0.96 * self.half)
        lat = np.clip(1 - u * u, 0, 1) ** (0.75 - 0.55 * min(1.0, x_.square))
        yl = np.polyval(self.lip, np.clip(x, self.xc - self.half, self.xc + self.half))
        dy = y - yl
        # upper layer: lifted by `lift`, closed by half the photo's gap, fading upwards
        up_edge = yl - lift * lat
        wu = np.exp(-0.5 * (np.minimum(0, y - up_edge) / (0.28 * M)) ** 2)
        ys_up = y + (lift - g2) * lat * wu
        # lower layer: lower lip and jaw, continuous beside the corners, fading below the chin
        jl = np.exp(-0.5 * ((x - self.xc) / (0.7 * M)) ** 2)
        ramp = 1 - np.exp(-(np.maximum(dy, 0) / (0.7 * M)) ** 2)
        neck = np.exp(-0.5 * (np.maximum(0, y - self.chin_y) / (0.6 * M)) ** 2)
        move = drop * jl * neck * (lat + (1 - lat) * ramp)
        close = g2 * lat * np.exp(-0.5 * (np.maximum(dy, 0) / (0.5 * M)) ** 2)
        ys_lo = y - move + close
        upper = ys_up <= yl - g2 * lat + 0.4
        lower = ys_lo >= yl + g2 * lat - 0.4
        ys = np.where(upper | ~lower, ys_up, ys_lo).astype(np.float32)
        gap = ~upper & ~lower
        if lift + drop <= 0.3 or not gap.any():
            return ys, None, None
        rows, cols = np.nonzero(gap)
        pad = int(3 * self.p.softness) + 2
        b0, b1 = max(0, rows.min() - pad), rows.max() + pad + 1
        a0, a1 = max(0, cols.min() - pad), cols.max() + pad + 1
        box = (slice(b0, b1), slice(a0, a1))
        alpha = np.zeros(gap.shape, np.float32)
        inner = np.zeros(gap.shape + (3,), np.float32)
        sig = max(0.6, 0.8 * self.p.softness)
        alpha[box] = cv2.GaussianBlur(gap[box].astype(np.float32), (0, 0), sig)
        inner[box] = cv2.GaussianBlur(self._interior(x[box], y[box], yl[box], up_edge[box],
                                                     (yl + drop * lat)[box], lat[box]), (0, 0), sig)
        return ys, alpha, inner

    def _interior(self, x, y, yl, top, bottom, lat):
        """Upper teeth under the upper lip, lower teeth when bared, a dark cavity between."""
        M = self.M
        u = (x - self.xc) / self.half
        col = np.broadcast_to(self.cavity, x.shape + (3,)).copy()
        depth = np.clip((y - top) / np.maximum(bottom - top, 1.0), 0, 1)
        col *= (1.0 - 0.4 * np.sin(np.pi * depth))[..., None]
        edge_up = yl + self.x.upper_teeth * M * (1 - 0.6 * u * u)
        teeth_up = (y <= edge_up) & (np.abs(u) < 0.8)
        teeth_lo = (y >= bottom - self.x.lower_teeth * 0.1 * M) & (np.abs(u) < 0.7)
        gaps = 1 - 0.15 * np.exp(-0.5 * ((np.mod(x - self.xc, 0.11 * M) - 0.055 * M) / (0.012 * M)) ** 2)
        # the upper lip shades the top of the upper teeth, the cavity darkens teeth towards the corners
        lipshade = 1 - 0.35 * np.exp(-np.maximum(0, y - top) / (0.03 * M))
        side = 1 - 0.55 * np.clip(np.abs(u), 0, 1) ** 2
        teeth = self.teeth * (gaps * lipshade * side)[..., None]
        return np.where((teeth_up | teeth_lo)[..., None], teeth, col).astype(np.float32)
