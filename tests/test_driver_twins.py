"""Issue 24: a method's output with the real video's content (the ground-truth control) shares the
real video's stream, and an unpaired evaluator that both feed (the set-level real side of FID/FVD)
runs once: the copy's result is the real side's, the evaluator saw each frame once."""

from __future__ import annotations

import shutil

import numpy as np

from eadbench import media
from eadbench.metrics.base import HIGHER, ClipMeta, Evaluator, MetricContext, MetricInfo, MetricProtocol
from eadbench.run.driver import ClipScoring, Job, score_clip
from eadbench.run.layout import REAL
from eadbench.weights import WeightStore


class _Features(Evaluator):
    """A set-level 'feature' metric that counts the frames it was fed."""

    fed = 0

    def views(self):
        return "frames", None

    def begin(self, meta):
        return []

    def update(self, state, chunk):
        type(self).fed += len(chunk.fake)
        state.append(chunk.fake.reshape(len(chunk.fake), -1).mean(axis=1))

    def end(self, state):
        return {"features": np.concatenate(state)}


_Features.info = MetricInfo(name="feat_test", direction=HIGHER, level="set", outputs=("feat",), needs=("real",),
                            weights=(), protocols=(MetricProtocol("feat_test", "1"),), description="test",
                            factory=_Features)


def test_ground_truth_copy_shares_the_real_sides_features(tmp_path):
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (20, 32, 32, 3), dtype=np.uint8)
    real = media.write_video(tmp_path / "real.mp4", frames)
    copy = tmp_path / "gt.mp4"
    shutil.copy(real, copy)
    other = media.write_video(tmp_path / "other.mp4", frames[::-1].copy())
    store = WeightStore(device="cpu")
    ev = _Features(MetricContext(store=store))
    jobs = [Job("ground_truth", copy, {"feat_test": ev}), Job("other", other, {"feat_test": ev}),
            Job(REAL, real, {"feat_test": ev})]
    _Features.fed = 0
    out, _ = score_clip(ClipScoring(ClipMeta("c"), real, jobs, store))
    assert _Features.fed == 2 * len(frames)  # the real side and `other`; the copy was not fed again
    gt, ref = out[("ground_truth", "feat_test")], out[(REAL, "feat_test")]
    assert gt.status == ref.status == "ok"
    np.testing.assert_array_equal(gt.output["features"], ref.output["features"])
    assert gt.output is not ref.output  # a copy: a later edit of one record cannot change the other
    assert not np.array_equal(out[("other", "feat_test")].output["features"], ref.output["features"])
