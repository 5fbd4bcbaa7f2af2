"""Facial action measurements from the 468-point MediaPipe face mesh: brows, eyes, lips, jaw, nose.

Why: EAD-Net's text condition should say what a real video's face does (as the paper's
vision-language descriptions do), and lip-sync / silent-mouth probes need a mouth-opening
signal. Both come from the same per-frame geometry, measured here once.

Geometry. Every frame's landmarks are put in a pose-free frame before anything is measured:

1. origin at the midpoint of the two eye-corner midpoints, unit = the inter-ocular distance (IOD:
   distance between the eye-corner midpoints, landmarks 33/133 and 362/263);
2. with 3-D landmarks (the mesh's x, y, z), the rigid points ``RIGID`` (eye corners, nasal
   dorsum, temples, cheek edges: points that expressions barely move) are rotated onto
   ``TEMPLATE`` (Kabsch), which removes head pitch, yaw and roll; with 2-D landmarks only the
   in-plane roll is removed (the eye line made horizontal), so pitch still leaks into
   vertical distances;
3. measures are then read in the frontal x-y plane, y pointing down (image convention).

Forehead points are not in ``RIGID``: the mesh moves them with the brows, and aligning on them
hid half of a brow raise on the real MEAD clips. ``TEMPLATE`` is the left/right-symmetrised
median of those rigid points on MEAD W011's neutral front clip (a frontal, upright head), rolled
so that the eye line is horizontal.

Landmark indices (MediaPipe's canonical mesh; "right"/"left" are the subject's, so in a
non-mirrored video the subject's right eye is on the image's left):

============================  =====================================================================
measure                       landmarks
============================  =====================================================================
eye corners (IOD, origin)     right 33 (outer), 133 (inner); left 362 (inner), 263 (outer)
outer_brow_height             brow above its eye's corner midpoint: right 70, 63, 46, 53; left 300,
                              293, 276, 283 (AU2)
inner_brow_height             right 107, 66, 55, 65; left 336, 296, 285, 295 (AU1; falls with AU4)
inner_brow_gap                horizontal gap, inner brows 107, 55 to 336, 285 (shrinks with AU4)
eye_opening_right / _left     lid gaps 159-145, 158-153, 160-144 / 386-374, 385-380, 387-373 (AU5,
                              AU6/AU7 narrow it); eye_opening = their mean
lip_corner_height             lip centre (midpoint of the inner lips 13, 14) minus the corners 61,
                              291, vertically: > 0 corners above the centre (AU12 up, AU15 down);
                              the inner-lip midpoint keeps the jaw's opening out of it
lip_corner_asymmetry          y(61) - y(291): > 0 the subject's left corner (291) is higher (AU14 one
                              side, contempt)
mouth_width                   61 to 291 (AU20 lip stretch, AU12)
lip_thickness                 red lip along the midline: upper 0-13 plus lower 14-17 (AU23/24 press
                              thins it)
nose_to_upper_lip             subnasale 2 to the upper lip 0, vertically (AU10 raises the lip: shrinks)
mouth_opening                 inner lip gap, mean of 13-14, 82-87, 312-317 (AU25/26/27)
brow_to_nose                  subnasale 2 to the inner brows' mean height (AU9 nose wrinkle shrinks
                              it; it also shrinks with brow lowering, AU4)
============================  =====================================================================

All measures are in IOD units. Frames where the mesh found no face are NaN rows in, NaN out.
``ACTIONS`` orients each measure so that a positive change is the named action and gives the
scale of a clear action, used to rank actions and word their strength. ``action_vector`` stacks
them into one vector per frame (``VECTOR``, names pinned; clear-action units), what the paired
action distances (``action_dist``, ``action_dist_dtw``) read, and what any other metric over facial
actions should share.

The face mesh is ``eadbench.nets.face_mesh`` (its 3-D points), imported on first use.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Eye corners: subject's right eye outer/inner, left eye inner/outer.
EYE_CORNERS = (33, 133, 362, 263)
#: Points that facial expressions hardly move: eye corners, nasal dorsum, temples, cheek edges.
RIGID = (33, 133, 362, 263, 168, 6, 197, 195, 5, 127, 356, 234, 454)
#: Frontal positions of ``RIGID`` in IOD units (origin: eye-corner midpoints' midpoint; y down,
#: z away from the camera): the symmetrised median of MEAD W011's neutral front clip.
TEMPLATE = np.array([
    [-0.722, -0.006, 0.044], [-0.278, 0.006, -0.044], [0.278, 0.006, -0.044], [0.722, -0.006, 0.044],
    [0.0, -0.130, -0.287], [0.0, -0.013, -0.373], [0.0, 0.087, -0.471], [0.0, 0.176, -0.575],
    [0.0, 0.271, -0.681], [-1.126, 0.118, 0.823], [1.126, 0.118, 0.823], [-1.113, 0.350, 0.854],
    [1.113, 0.350, 0.854],
])

OUTER_BROW = ((70, 63, 46, 53), (300, 293, 276, 283))
INNER_BROW = ((107, 66, 55, 65), (336, 296, 285, 295))
BROW_GAP = ((107, 55), (336, 285))
EYE_LIDS = (((159, 145), (158, 153), (160, 144)), ((386, 374), (385, 380), (387, 373)))
LIP_CORNERS = (61, 291)
LIP_CENTRE = (13, 14)
INNER_LIP_GAPS = ((13, 14), (82, 87), (312, 317))
UPPER_LIP_OUTER, LOWER_LIP_OUTER = 0, 17
SUBNASALE = 2

MEASURES = ("outer_brow_height", "inner_brow_height", "inner_brow_gap", "eye_opening", "eye_opening_right",
            "eye_opening_left", "lip_corner_height", "lip_corner_asymmetry", "mouth_width", "lip_thickness",
            "nose_to_upper_lip", "mouth_opening", "brow_to_nose")


@dataclass(frozen=True)
class Action:
    """An action unit read from one measure: ``sign`` * (measure - baseline) > 0 is the action."""

    name: str
    measure: str
    sign: float
    facs: str
    up: str  # phrase when the oriented change is positive
    down: str | None  # phrase when it is negative (None: not described, e.g. a nose cannot "unwrinkle")
    scale: float  # change, in IOD units, of a clear action (ranks actions and words their strength)


#: The actions a description may name. Scales are the displacement of a clear, visible action in
#: IOD units, set by eye from MEAD W011's level-3 clips (about the size of their deltas below).
ACTIONS: tuple[Action, ...] = (
    Action("outer_brow_raise", "outer_brow_height", 1, "AU2", "outer brows raised", "outer brows lowered",
           0.03),
    Action("inner_brow_raise", "inner_brow_height", 1, "AU1 (AU4 down)", "inner brows raised",
           "brows lowered", 0.03),
    Action("brow_knit", "inner_brow_gap", -1, "AU4", "brows drawn together", None, 0.015),
    Action("eye_widen", "eye_opening", 1, "AU5 (AU6/AU7 down)", "eyes widened", "eyes narrowed", 0.012),
    Action("lip_corner_pull", "lip_corner_height", 1, "AU12 (AU15 down)", "lip corners pulled up",
           "lip corners pulled down", 0.025),
    Action("lip_stretch", "mouth_width", 1, "AU20 / AU12", "lips stretched wide", "lips pursed", 0.05),
    Action("lip_press", "lip_thickness", -1, "AU23/AU24", "lips pressed thin", None, 0.03),
    Action("upper_lip_raise", "nose_to_upper_lip", -1, "AU10", "upper lip raised", None, 0.015),
    Action("jaw_drop", "mouth_opening", 1, "AU25/26/27", "mouth open", "mouth held nearly closed", 0.08),
    Action("nose_wrinkle", "brow_to_nose", -1, "AU9 (with AU4)", "nose wrinkled", None, 0.03),
    Action("lip_corner_asymmetry", "lip_corner_asymmetry", 1, "AU14 one side", "left lip corner raised",
           "right lip corner raised", 0.012),
)
ACTION_BY_NAME = {a.name: a for a in ACTIONS}


def _kabsch(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Rotation R (3x3, det +1) minimising |p @ R.T - q| for centred point sets p, q (N, 3)."""
    u, _, vt = np.linalg.svd(p.T @ q)
    d = np.sign(np.linalg.det(vt.T @ u.T)) or 1.0
    return vt.T @ np.diag([1.0, 1.0, d]) @ u.T


def frontalise(landmarks: np.ndarray) -> np.ndarray:
    """(T, 468, 2|3) or (468, 2|3) mesh landmarks -> (..., 468, 2) pose-free frontal x, y in IOD units.

    3-D input: the rigid points are rotated onto ``TEMPLATE`` (pitch, yaw and roll removed); 2-D
    input: only the roll is removed. NaN frames stay NaN."""
    lm = np.asarray(landmarks, dtype=np.float64)
    single = lm.ndim == 2
    if single:
        lm = lm[None]
    if lm.ndim != 3 or lm.shape[1] != 468 or lm.shape[2] not in (2, 3):
        raise ValueError(f"expected (T, 468, 2|3) face-mesh landmarks, got {lm.shape}")
    out = np.full(lm.shape[:2] + (2,), np.nan)
    a = lm[:, [EYE_CORNERS[0], EYE_CORNERS[1]]].mean(1)
    b = lm[:, [EYE_CORNERS[2], EYE_CORNERS[3]]].mean(1)
    iod = np.linalg.norm(b - a, axis=1)
    ok = np.isfinite(lm).all(axis=(1, 2)) & (iod > 0)
    for t in np.flatnonzero(ok):
        p = (lm[t] - (a[t] + b[t]) / 2) / iod[t]
        if p.shape[1] == 3:
            rig = p[list(RIGID)]
            pc, qc = rig.mean(0), TEMPLATE.mean(0)
            r = _kabsch(rig - pc, TEMPLATE - qc)
            out[t] = ((p - pc) @ r.T + qc)[:, :2]
        else:
            d = (b[t] - a[t]) / iod[t]
            rot = np.array([[d[0], d[1]], [-d[1], d[0]]])  # eye line onto +x
            out[t] = p @ rot.T
    return out[0] if single else out


def _y(p: np.ndarray, ids) -> np.ndarray:
    return p[:, list(ids), 1].mean(1)


def measure_frontal(p: np.ndarray) -> dict[str, np.ndarray]:
    """Per-frame measures (``MEASURES``) of frontalised landmarks (T, 468, 2); NaN where no face."""
    x, y = p[..., 0], p[..., 1]
    eyes = [_y(p, EYE_CORNERS[:2]), _y(p, EYE_CORNERS[2:])]
    outer = [eyes[s] - _y(p, OUTER_BROW[s]) for s in (0, 1)]
    inner = [eyes[s] - _y(p, INNER_BROW[s]) for s in (0, 1)]
    lids = [np.mean([y[:, lo] - y[:, up] for up, lo in EYE_LIDS[s]], axis=0) for s in (0, 1)]
    centre = _y(p, LIP_CENTRE)
    c0, c1 = LIP_CORNERS
    return {
        "outer_brow_height": (outer[0] + outer[1]) / 2,
        "inner_brow_height": (inner[0] + inner[1]) / 2,
        "inner_brow_gap": x[:, list(BROW_GAP[1])].mean(1) - x[:, list(BROW_GAP[0])].mean(1),
        "eye_opening": (lids[0] + lids[1]) / 2,
        "eye_opening_right": lids[0],
        "eye_opening_left": lids[1],
        "lip_corner_height": centre - (y[:, c0] + y[:, c1]) / 2,
        "lip_corner_asymmetry": y[:, c0] - y[:, c1],
        "mouth_width": np.hypot(x[:, c1] - x[:, c0], y[:, c1] - y[:, c0]),
        "lip_thickness": ((y[:, LIP_CENTRE[0]] - y[:, UPPER_LIP_OUTER])
                          + (y[:, LOWER_LIP_OUTER] - y[:, LIP_CENTRE[1]])),
        "nose_to_upper_lip": y[:, UPPER_LIP_OUTER] - y[:, SUBNASALE],
        "mouth_opening": _inner_gap(p),
        "brow_to_nose": y[:, SUBNASALE] - (_y(p, INNER_BROW[0]) + _y(p, INNER_BROW[1])) / 2,
    }


def _inner_gap(p: np.ndarray) -> np.ndarray:
    return np.mean([p[:, lo, 1] - p[:, up, 1] for up, lo in INNER_LIP_GAPS], axis=0)


def measure(landmarks: np.ndarray) -> dict[str, np.ndarray]:
    """Per-frame action measures of mesh landmarks (T, 468, 2|3): name -> (T,) in IOD units."""
    p = frontalise(landmarks)
    return measure_frontal(p if p.ndim == 3 else p[None])


def mouth_opening(landmarks: np.ndarray) -> np.ndarray | float:
    """Inner-lip gap in IOD units, per frame ((T, 468, 2|3) -> (T,); (468, 2|3) -> float; NaN: no face).

    For lip-sync (correlate with speech loudness) and silent-mouth probes."""
    p = frontalise(landmarks)
    if p.ndim == 2:
        return float(_inner_gap(p[None])[0])
    return _inner_gap(p)


#: The facial action vector's components, in this order (pinned: ``action_vector`` and every metric
#: that reads it, ``action_dist`` and ``action_dist_dtw`` among them, depend on it): one per ``ACTIONS``
#: entry.
VECTOR = ("outer_brow_raise", "inner_brow_raise", "brow_knit", "eye_widen", "lip_corner_pull", "lip_stretch",
          "lip_press", "upper_lip_raise", "jaw_drop", "nose_wrinkle", "lip_corner_asymmetry")


def action_vector(landmarks: np.ndarray) -> np.ndarray:
    """(T, 468, 2|3) mesh landmarks -> (T, K) facial action vectors, K = len(``VECTOR``): for each action,
    ``sign * measure / scale``, its pose-free measure oriented so that more of the action is larger and
    in units of a clear action (so a brow and a jaw weigh alike). No baseline is subtracted: a face held
    in a smile differs from a neutral face. NaN rows where no face."""
    m = measure(landmarks)
    acts = [ACTION_BY_NAME[name] for name in VECTOR]
    return np.stack([a.sign * np.asarray(m[a.measure], dtype=np.float64) / a.scale for a in acts], axis=1)


def summarise(series: dict[str, np.ndarray]) -> dict[str, float]:
    """Clip-level value of each measure: the median over the frames with a face (NaN if none)."""
    out = {}
    for k, v in series.items():
        v = np.asarray(v, dtype=np.float64)
        out[k] = float(np.nanmedian(v)) if np.isfinite(v).any() else float("nan")
    return out


def action_scores(series: dict[str, np.ndarray], baseline: dict[str, float]) -> dict[str, np.ndarray]:
    """Per-frame oriented action strength: sign * (measure - baseline) / scale, per ``ACTIONS`` entry."""
    return {a.name: a.sign * (np.asarray(series[a.measure], dtype=np.float64) - baseline[a.measure]) / a.scale
            for a in ACTIONS}


# ------------------------------------------------------------------ face mesh (3-D landmarks)

def _mesh(weights_dir: str | None = None):
    from eadbench.nets.face_mesh import face_mesh
    from eadbench.weights import WeightStore

    return face_mesh(WeightStore(weights_dir))


def landmarks3d(crops: np.ndarray, weights_dir: str | None = None) -> np.ndarray:
    """(T, 468, 3) mesh landmarks (x, y in crop pixels, z on the x scale) of RGB face crops; NaN
    rows for frames where the mesh found no face."""
    m = _mesh(weights_dir)
    out = np.full((len(crops), 468, 3), np.nan)
    for i, c in enumerate(crops):
        pts = m.points(np.ascontiguousarray(c))
        if pts is not None:
            out[i] = pts
    return out


def measure_crops(crops: np.ndarray, weights_dir: str | None = None) -> dict[str, np.ndarray]:
    """Per-frame measures of RGB face crops (T, S, S, 3) (e.g. a prepared ``face256`` crop)."""
    return measure(landmarks3d(crops, weights_dir))


# ------------------------------------------------------------------ validation against a neutral clip

#: Expected direction of each action in an emotion's FACS prototype (EMFACS; Ekman & Friesen),
#: +1 more of the action than the neutral face, -1 less. Contempt's asymmetry is judged on its
#: size (either side), see ``compare_to_neutral``.
EXPECTED: dict[str, dict[str, int]] = {
    "happy": {"lip_corner_pull": 1, "lip_stretch": 1, "eye_widen": -1},  # AU6 + AU12
    "sad": {"inner_brow_raise": 1, "lip_corner_pull": -1, "brow_knit": 1},  # AU1 + AU4 + AU15
    "surprised": {"inner_brow_raise": 1, "outer_brow_raise": 1, "eye_widen": 1, "jaw_drop": 1},  # 1+2+5+26
    "fear": {"inner_brow_raise": 1, "outer_brow_raise": 1, "brow_knit": 1, "eye_widen": 1,
             "lip_stretch": 1, "jaw_drop": 1},  # AU1+2+4+5+20+26
    "angry": {"inner_brow_raise": -1, "brow_knit": 1, "lip_press": 1},  # AU4 (+5/7) + AU23/24
    "disgusted": {"nose_wrinkle": 1, "upper_lip_raise": 1, "lip_corner_pull": -1},  # AU9/10 + AU15
    "contempt": {"lip_corner_asymmetry": 1},  # AU12 + AU14 on one side
}


def _block_medians(v: np.ndarray, rng: np.random.Generator, n_boot: int, block: int) -> np.ndarray:
    v = v[np.isfinite(v)]
    n = len(v)
    if n == 0:
        return np.full(n_boot, np.nan)
    block = max(1, min(block, n))
    starts = rng.integers(0, n - block + 1, size=(n_boot, -(-n // block)))
    idx = (starts[..., None] + np.arange(block)).reshape(n_boot, -1)[:, :n]
    return np.median(v[idx], axis=1)


def compare_to_neutral(series: dict[str, np.ndarray], neutral: dict[str, np.ndarray], n_boot: int = 1000,
                       block: int = 10, seed: int = 0) -> dict[str, dict[str, float]]:
    """Per action: the oriented change of the clip's median against the neutral clip's median
    (IOD units; > 0 = more of the action) with a 95% block-bootstrap interval (blocks of
    ``block`` frames keep the frames' correlation). ``lip_corner_asymmetry`` is reported as the
    size of the change (either corner), its interval from the bootstrap of that size."""
    rng = np.random.default_rng(seed)
    out = {}
    for a in ACTIONS:
        x, n = np.asarray(series[a.measure], float), np.asarray(neutral[a.measure], float)
        delta = a.sign * (np.nanmedian(x) - np.nanmedian(n))
        boot = a.sign * (_block_medians(x, rng, n_boot, block) - _block_medians(n, rng, n_boot, block))
        if a.name == "lip_corner_asymmetry":
            delta, boot = abs(delta), np.abs(boot)
        lo, hi = np.nanpercentile(boot, [2.5, 97.5])
        out[a.name] = {"delta": float(delta), "lo": float(lo), "hi": float(hi)}
    return out


def verdict(delta: dict[str, float], expected: int) -> str:
    """'holds' (the 95% interval is on the expected side of 0), 'weak' (right sign, interval
    includes 0) or 'fails' (wrong sign)."""
    if expected * delta["delta"] <= 0:
        return "fails"
    inside = delta["lo"] > 0 if expected > 0 else delta["hi"] < 0
    return "holds" if inside else "weak"
