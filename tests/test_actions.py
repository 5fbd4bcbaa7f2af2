"""Facial action measurements (eadbench.faces.actions): pose-free geometry, NaN frames, mouth opening."""

from __future__ import annotations

import numpy as np
import pytest

from eadbench.faces import actions


@pytest.fixture(scope="module")
def astronaut_mesh():
    """(1, 468, 3) mesh landmarks of the astronaut portrait (a real photo shipped with scikit-image)."""
    from eadbench.synth.face import portrait

    lm = actions.landmarks3d(portrait(0, 256).image[None])
    assert np.isfinite(lm).all()
    return lm


def _rotation(pitch: float, yaw: float, roll: float) -> np.ndarray:
    a, b, c = np.radians([pitch, yaw, roll])
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return rz @ ry @ rx


def test_measures_do_not_change_with_head_pose_scale_or_position(astronaut_mesh):
    base = actions.measure(astronaut_mesh)
    centre = astronaut_mesh[0].mean(0)
    moved = (astronaut_mesh[0] - centre) @ _rotation(18, -12, 9).T * 1.7 + centre + [30, -11, 4]
    again = actions.measure(moved[None])
    for k in actions.MEASURES:
        assert again[k][0] == pytest.approx(base[k][0], abs=1e-9), k
    # 2-D landmarks: in-plane roll and scale are removed, a pitch is not (it shortens vertical distances)
    flat = actions.measure(astronaut_mesh[..., :2])
    flat3 = astronaut_mesh[0] - centre
    rolled = actions.measure((flat3 @ _rotation(0, 0, 14).T * 0.6 + centre)[None, :, :2])
    pitched = actions.measure((flat3 @ _rotation(25, 0, 0).T + centre)[None, :, :2])
    assert rolled["inner_brow_height"][0] == pytest.approx(flat["inner_brow_height"][0], abs=1e-9)
    assert pitched["inner_brow_height"][0] < flat["inner_brow_height"][0] - 0.01


def test_values_are_plausible_on_a_real_face(astronaut_mesh):
    m = {k: float(v[0]) for k, v in actions.measure(astronaut_mesh).items()}
    assert 0.15 < m["outer_brow_height"] < 0.5 and 0.15 < m["inner_brow_height"] < 0.6
    assert 0.05 < m["eye_opening"] < 0.2 and abs(m["eye_opening_left"] - m["eye_opening_right"]) < 0.05
    assert 0.6 < m["mouth_width"] < 1.2 and 0 <= m["mouth_opening"] < 0.3  # she smiles, teeth showing
    assert 0.1 < m["nose_to_upper_lip"] < 0.4 and abs(m["lip_corner_asymmetry"]) < 0.05


def test_mouth_opening_is_the_inner_lip_gap_and_nan_without_a_face(astronaut_mesh):
    lm = np.repeat(astronaut_mesh, 3, axis=0)
    iod = np.linalg.norm(lm[0, [362, 263]].mean(0) - lm[0, [33, 133]].mean(0))
    lm[1, [14, 87, 317], 1] += 0.1 * iod  # lower lip 0.1 IOD further down
    lm[2] = np.nan  # no face in frame 2
    op = actions.mouth_opening(lm)
    assert op.shape == (3,) and np.isnan(op[2])
    assert op[1] - op[0] == pytest.approx(0.1, abs=0.01)
    assert isinstance(actions.mouth_opening(lm[0]), float)
    assert actions.mouth_opening(lm[0, :, :2]) == pytest.approx(op[0], abs=0.02)
    series = actions.measure(lm)
    assert all(np.isnan(v[2]) for v in series.values())
    with pytest.raises(ValueError, match="468"):
        actions.mouth_opening(np.zeros((4, 68, 2)))


def test_blank_crops_give_nan_rows():
    lm = actions.landmarks3d(np.full((2, 256, 256, 3), 127, np.uint8))
    assert lm.shape == (2, 468, 3) and np.isnan(lm).all()


def test_actions_are_oriented_so_that_positive_is_the_named_action(astronaut_mesh):
    lm = np.repeat(astronaut_mesh, 2, axis=0)
    iod = np.linalg.norm(lm[0, [362, 263]].mean(0) - lm[0, [33, 133]].mean(0))
    inner = [107, 66, 55, 65, 336, 296, 285, 295]
    lm[1, inner, 1] += 0.05 * iod  # inner brows down
    lm[1, [107, 55], 0] += 0.02 * iod  # and together
    lm[1, [336, 285], 0] -= 0.02 * iod
    lm[1, [61, 291], 1] -= 0.04 * iod  # lip corners up
    s = actions.measure(lm)
    z = actions.action_scores(s, actions.summarise({k: v[:1] for k, v in s.items()}))
    assert z["inner_brow_raise"][1] < -1 and z["brow_knit"][1] > 1 and z["lip_corner_pull"][1] > 1
    assert z["nose_wrinkle"][1] > 0  # brows nearer the nose (the measure's known overlap with AU4)
    assert abs(z["eye_widen"][1]) < 1e-6 and abs(z["lip_corner_asymmetry"][1]) < 1e-6


def test_compare_to_neutral_gives_a_signed_change_with_an_interval():
    rng = np.random.default_rng(0)
    neutral = {k: rng.normal(0.3, 0.01, 100) for k in actions.MEASURES}
    clip = {k: v + (0.03 if k == "mouth_width" else 0.0) + rng.normal(0, 0.01, 100)
            for k, v in neutral.items()}
    res = actions.compare_to_neutral(clip, neutral)
    assert res["lip_stretch"]["delta"] == pytest.approx(0.03, abs=0.006)
    assert actions.verdict(res["lip_stretch"], 1) == "holds"
    assert actions.verdict(res["lip_stretch"], -1) == "fails"
    assert actions.verdict(res["eye_widen"], 1) in ("weak", "fails")
    assert res["lip_corner_asymmetry"]["delta"] >= 0  # judged on its size
