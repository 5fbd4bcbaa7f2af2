"""Temporally tolerant paired scores (``lmd_dtw``: ``lmd-dtw-band@1``; ``action_dist``:
``action-vector@1``; ``action_dist_dtw``: ``action-vector-dtw-band@1``) and the banded DTW under them.

* The banded DTW (``eadbench.metrics._dtw``) equals a plain full dynamic programme written here
  (every cell of the n x n matrix, the band as a mask) on random sequences, and its path is a valid
  banded path whose costs add up to its total.
* On real footage (the shared clips, first 125 frames, tracked the quick way): the real clip
  against itself gives exactly 0 under all six scores; the real clip two frames late scores clearly
  worse frame by frame and nearly 0 after DTW (lag found: 2 frames); a still frame scores clearly
  worse under both (and warping cannot help it: the DTW value equals the frame-by-frame one); a
  harmless H.264 re-encoding moves every score less than those harmful copies.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers.shared_data import real_data

CLIPS = ("WDA_KatieHill_000", "retalking_1", "mead_W011_front_neutral_level1_001")
MAX_FRAMES = 125
FRAME_BY_FRAME = ("lmd", "f_lmd", "action_dist")
DTW = ("lmd_dtw", "f_lmd_dtw", "action_dist_dtw")


def _reference_dtw(cost: np.ndarray, band: int) -> float:
    """Plain DTW over the full n x n cost matrix (``cost[i, j]``): D[i, j] = cost[i, j] + min(D[i-1, j],
    D[i, j-1], D[i-1, j-1]), cells with |i - j| > band unreachable; the summed cost of (n-1, n-1)."""
    n = len(cost)
    d = np.full((n + 1, n + 1), np.inf)
    d[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, n + 1):
            if abs(i - j) <= band:
                d[i, j] = cost[i - 1, j - 1] + min(d[i - 1, j], d[i, j - 1], d[i - 1, j - 1])
    return float(d[n, n])


def _euclid(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.linalg.norm(a - b, axis=1)


def _late(x: np.ndarray, k: int) -> np.ndarray:
    """``x`` ``k`` frames late, its first frame held, the same length."""
    return np.concatenate([np.repeat(x[:1], k, axis=0), x[:-k]])


# ------------------------------------------------------------------ the DTW itself, no network


@pytest.mark.parametrize("n,band", [(1, 0), (1, 5), (2, 1), (7, 0), (7, 2), (7, 10), (40, 5), (60, 3)])
def test_banded_dtw_equals_a_full_reference_and_its_path_adds_up(n, band):
    from eadbench.metrics._dtw import dtw

    rng = np.random.default_rng(n * 100 + band)
    f, r = rng.normal(size=(n, 3)), rng.normal(size=(n, 3))
    w = dtw(f, r, _euclid, band)
    full = np.linalg.norm(f[:, None] - r[None], axis=2)
    assert w.total == pytest.approx(_reference_dtw(full, band), rel=1e-12)
    assert w.value == pytest.approx(w.total / n, rel=1e-12)
    p = w.path
    assert tuple(p[0]) == (0, 0) and tuple(p[-1]) == (n - 1, n - 1)
    steps = {tuple(s) for s in np.diff(p, axis=0)}
    assert steps <= {(1, 0), (0, 1), (1, 1)}
    assert np.abs(p[:, 0] - p[:, 1]).max() <= band
    assert full[p[:, 0], p[:, 1]].sum() == pytest.approx(w.total, rel=1e-12)


def test_band_zero_is_the_frame_by_frame_mean_and_a_lag_inside_the_band_is_forgiven():
    from eadbench.metrics._dtw import dtw

    t = np.arange(120)
    real = np.stack([np.sin(t / 4.0), np.cos(t / 7.0)], axis=1)
    fake = _late(real, 3)
    fbf = _euclid(fake, real).mean()
    assert dtw(fake, real, _euclid, 0).value == pytest.approx(fbf, rel=1e-12)
    w = dtw(fake, real, _euclid, 5)
    assert w.value < 0.05 * fbf, (w.value, fbf)
    assert w.lag == pytest.approx(3.0, abs=0.1)
    early = np.concatenate([real[3:], np.repeat(real[-1:], 3, axis=0)])  # 3 frames early, its last frame held
    w = dtw(early, real, _euclid, 5)
    assert w.value < 0.05 * fbf and w.lag == pytest.approx(-3.0, abs=0.1)
    assert dtw(real, real, _euclid, 5).value == 0.0


def test_a_still_sequence_gains_nothing_from_warping():
    from eadbench.metrics._dtw import dtw

    real = np.random.default_rng(3).normal(size=(50, 4))
    still = np.repeat(real[:1], 50, axis=0)
    w = dtw(still, real, _euclid, 5)
    assert w.value == pytest.approx(_euclid(still, real).mean(), rel=1e-12)


def test_action_vector_is_the_pinned_oriented_scaled_measures():
    from eadbench.faces.actions import ACTION_BY_NAME, ACTIONS, VECTOR, action_vector, measure

    assert set(VECTOR) == {a.name for a in ACTIONS} and len(VECTOR) == len(ACTIONS)
    rng = np.random.default_rng(0)
    marks = rng.normal(size=(4, 468, 3)) * 10 + 128
    marks[2] = np.nan
    v = action_vector(marks)
    assert v.shape == (4, len(VECTOR))
    assert np.isnan(v[2]).all() and np.isfinite(v[[0, 1, 3]]).all()
    m = measure(marks)
    jaw, press = VECTOR.index("jaw_drop"), VECTOR.index("lip_press")
    assert np.allclose(v[[0, 1, 3], jaw], m["mouth_opening"][[0, 1, 3]] / ACTION_BY_NAME["jaw_drop"].scale)
    assert np.allclose(v[[0, 1, 3], press], -m["lip_thickness"][[0, 1, 3]] / ACTION_BY_NAME["lip_press"].scale)


def test_no_common_face_is_a_one_line_error():
    from eadbench.errors import MetricInputError
    from eadbench.metrics.lmd_dtw import lmd_dtw_from_landmarks

    a = np.full((5, 468, 2), np.nan)
    with pytest.raises(MetricInputError, match="no frame where the face mesh found a face in both"):
        lmd_dtw_from_landmarks(a, np.zeros((5, 468, 2)))


# ------------------------------------------------------------------ real clips


@pytest.fixture(scope="module")
def mesh():
    import torch

    from eadbench.nets.face_mesh import face_mesh

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield face_mesh()
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def real_clips(mesh):
    """clip -> (frames, track, face256 crops): the first 125 frames, MTCNN on every 8th frame, boxes
    interpolated (``tests.helpers.faces.fast_crops``'s quick track, kept to cut re-encoded frames)."""
    from eadbench import faces, media
    from eadbench.faces.track import Track
    from tests.helpers.faces import STRIDE

    real = real_data()
    files = {c: real / f"{c}.mp4" for c in CLIPS}
    missing = [c for c, f in files.items() if not f.exists()]
    if missing:
        pytest.skip(f"real clips {', '.join(missing)} not found in {real} (set EADBENCH_SHARED to the shared folder)")
    out = {}
    for c, f in files.items():
        frames = media.read_frames(f, max_frames=MAX_FRAMES)
        part = faces.track_clip(frames[::STRIDE], protocol="mtcnn-fast")
        boxes = np.full((len(frames), 4), np.nan)
        boxes[::STRIDE] = part.boxes
        track = Track(boxes, np.full(len(frames), np.nan), np.full((len(frames), 5, 2), np.nan))
        out[c] = (frames, track, faces.crop_clip(frames, "face256", track).frames)
    return out


@pytest.fixture(scope="module")
def marks(real_clips, mesh):
    """clip -> (T, 468, 3) mesh landmarks of the real crops (the mesh is per frame: a late copy's mesh is
    the real series shifted, a still frame's is its one frame repeated)."""
    return {c: mesh.series(crops) for c, (_, _, crops) in real_clips.items()}


def _scores(fake: np.ndarray, real: np.ndarray) -> dict:
    from eadbench.metrics.action_dist import action_dist_from_landmarks
    from eadbench.metrics.action_dist_dtw import action_dist_dtw_from_landmarks
    from eadbench.metrics.lmd import lmd_from_landmarks
    from eadbench.metrics.lmd_dtw import lmd_dtw_from_landmarks

    return {**lmd_from_landmarks(fake[..., :2], real[..., :2]), **lmd_dtw_from_landmarks(fake, real),
            **action_dist_from_landmarks(fake, real), **action_dist_dtw_from_landmarks(fake, real)}


def test_real_is_ideal_late_is_forgiven_only_by_dtw_and_still_is_worse_under_both(marks):
    """Measured on these three clips: two frames late, frame-by-frame LMD 1.4-3.2 px and action
    distance 0.23-0.54, after DTW <= 0.03 px and <= 0.003 (lag 1.94-1.95 frames: the held first frames
    pull it under 2); a still frame: LMD 4.4-12.1 px, action distance 0.53-1.13, the same after DTW."""
    for clip, real in marks.items():
        ideal = _scores(real, real)
        assert all(ideal[k] == 0.0 for k in FRAME_BY_FRAME + DTW), (clip, ideal)
        late = _scores(_late(real, 2), real)
        assert late["lmd"] > 1.0 and late["f_lmd"] > 0.8 and late["action_dist"] > 0.15, (clip, late)
        for fbf, warped in zip(FRAME_BY_FRAME, DTW):
            assert late[warped] < 0.05 * late[fbf], (clip, warped, late)
        assert late["lmd_dtw_lag"] == pytest.approx(2.0, abs=0.1) and late["action_dist_dtw_lag"] == pytest.approx(
            2.0, abs=0.1)
        still = _scores(np.repeat(real[:1], len(real), axis=0), real)
        assert still["lmd"] > 3.0 and still["action_dist"] > 0.4, (clip, still)
        for fbf, warped in zip(FRAME_BY_FRAME, DTW):
            assert still[warped] == pytest.approx(still[fbf], rel=1e-9), (clip, warped, still)
            assert still[warped] > 2 * late[fbf], (clip, warped, still, late)


def test_a_harmless_reencoding_moves_every_score_less_than_the_harmful_copies(real_clips, marks, mesh, tmp_path):
    """The real frames through H.264 at crf 28, read back and cut with the real track (only the codec
    differs): measured on these two clips LMD 0.37-0.57 px and action distance 0.10-0.14 (the same
    after DTW), against 1.4-3.2 px and 0.23-0.54 two frames late (closest: retalking_1's slow speech,
    0.14 against 0.23) and 5.6-12.1 px and 0.53-1.13 for a still frame. Re-encoding the 256 crops
    themselves is harsher (action distance 0.18-0.19: close to retalking_1's two-frame lag)."""
    from eadbench import faces, media

    for clip in ("WDA_KatieHill_000", "retalking_1"):
        frames, track, _ = real_clips[clip]
        path = tmp_path / f"{clip}.mp4"
        with media.VideoWriter(path, crf=28) as w:
            for f in frames:
                w.write(f)
        crops = faces.crop_clip(media.read_frames(path)[: len(frames)], "face256", track).frames
        real = marks[clip]
        re = _scores(mesh.series(crops), real)
        late = _scores(_late(real, 2), real)
        still = _scores(np.repeat(real[:1], len(real), axis=0), real)
        for k in FRAME_BY_FRAME:
            assert 0 < re[k] < 0.75 * min(late[k], still[k]), (clip, k, re[k], late[k], still[k])
        for k in DTW:
            assert 0 < re[k] < 0.5 * still[k], (clip, k, re[k], still[k])


def test_the_evaluators_forgive_a_late_clip_streamed_in_chunks(real_clips, marks):
    from eadbench.metrics.action_dist import ActionDistEvaluator
    from eadbench.metrics.action_dist_dtw import ActionDistDTWEvaluator
    from eadbench.metrics.base import ClipMeta, MetricContext
    from eadbench.metrics.lmd_dtw import LMDDTWEvaluator

    x = real_clips["retalking_1"][2]
    late = _late(x, 2)
    expect = _scores(_late(marks["retalking_1"], 2), marks["retalking_1"])
    for cls, key in ((LMDDTWEvaluator, "lmd_dtw"), (ActionDistEvaluator, "action_dist"),
                     (ActionDistDTWEvaluator, "action_dist_dtw")):
        ev = cls(MetricContext())
        assert ev.clip(ClipMeta("same"), x, x, chunk=32)[key] == 0.0
        out = ev.clip(ClipMeta("late"), late, x, chunk=32)
        assert out[key] == pytest.approx(expect[key], rel=1e-9), key
    assert LMDDTWEvaluator(MetricContext()).protocol_key() == "lmd-dtw-band@1"


# ------------------------------------------------------------------ registration


def test_registered_listed_and_in_the_tables():
    import json

    from typer.testing import CliRunner

    from eadbench.cli.main import app
    from eadbench.metrics import METRICS, import_errors
    from eadbench.metrics.base import LOWER
    from eadbench.report.tables import DISPLAY

    keys = {"lmd_dtw": "lmd-dtw-band@1", "action_dist": "action-vector@1",
            "action_dist_dtw": "action-vector-dtw-band@1"}
    for name, protocol in keys.items():
        assert name not in import_errors
        info = METRICS.get(name)
        assert info.default_protocol.key == protocol and info.level == "clip" and info.direction == LOWER
        assert info.weights == ("face-mesh",)
    assert METRICS.get("lmd_dtw").direction_of("f_lmd_dtw") == LOWER
    assert METRICS.get("action_dist_dtw").default_protocol.param("band") == 5
    for key in ("lmd_dtw/lmd_dtw", "lmd_dtw/f_lmd_dtw", "action_dist/action_dist", "action_dist_dtw/action_dist_dtw"):
        assert key in DISPLAY
    order = list(DISPLAY)
    assert order.index("lmd_dtw/lmd_dtw") == order.index("lmd/f_lmd") + 1  # beside the frame-by-frame LMD
    r = CliRunner().invoke(app, ["metrics", "list", "--json"])
    assert r.exit_code == 0, r.output
    rows = {row["name"]: row for row in json.loads(r.output)}
    assert all(rows[name]["outputs"][name] == LOWER for name in keys)
