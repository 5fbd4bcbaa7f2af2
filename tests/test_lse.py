"""LSE-C/LSE-D/offset and MFCC against references: python_speech_features and independent,
loop-by-loop implementations of the three protocols' scripts (syncnet_python, Wav2Lip's LRS script,
LatentSync's eval_sync_conf), on the same stand-in SyncNet v2; syncnet-v2's min_track exclusion,
also as a row of `eadbench run`; LatentSync's track splitting (face lost, box jump, scene cut)."""

from __future__ import annotations

import numpy as np
import pytest
import python_speech_features
import torch

from eadbench.errors import MetricInputError, WeightsMissingError
from eadbench.metrics import lse as lse_mod
from eadbench.nets import syncnet as syncnet_mod
from eadbench.nets.mfcc import mfcc
from tests.helpers.standins import relax_hashes
from tests.reference.syncnet_reference import evaluate


def _speechlike(seconds, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    env = (np.sin(2 * np.pi * 3 * t) > 0).astype(float)
    x = env * (0.4 * np.sin(2 * np.pi * 180 * t) + 0.2 * np.sin(2 * np.pi * 900 * t))
    x = x + 0.01 * rng.normal(size=t.size)
    return x.astype(np.float32)


def test_mfcc_equals_python_speech_features():
    for seed in range(3):
        x = np.round(_speechlike(1.3, seed) * 32767)
        ref = python_speech_features.mfcc(x, 16000)
        ours = mfcc(x, 16000)
        assert ours.shape == ref.shape
        assert np.abs(ours - ref).max() < 1e-4


@pytest.fixture()
def standin(tmp_path, monkeypatch):
    torch.manual_seed(0)
    net = syncnet_mod.SyncNetV2()
    with torch.no_grad():  # non-trivial BatchNorm statistics, as a trained file would have
        for m in net.modules():
            if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 2.0)
    d = tmp_path / "weights"
    d.mkdir()
    torch.save(net.state_dict(), d / "syncnet_v2.model")
    monkeypatch.setenv("EADBENCH_WEIGHTS", str(d))
    relax_hashes(monkeypatch, ["syncnet-v2"])  # a stand-in cannot carry the published hash
    return net.state_dict()


def _crops(n, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (224, 224, 3)).astype(np.float32)
    yy = np.arange(224)[:, None]
    frames = []
    for i in range(n):
        f = base * 0.5 + 100 * (np.abs(yy - 150) < 10 + 8 * np.sin(i)) [..., None]
        frames.append(np.clip(f, 0, 255).astype(np.uint8))
    return np.stack(frames)


def test_lse_equals_reference_procedure(standin):
    crops = _crops(14)
    audio = _speechlike(14 / 25 + 0.1)
    ours = lse_mod.lse(crops, audio)
    ref = evaluate(standin, crops, np.clip(np.round(audio.astype(np.float64) * 32768), -32768, 32767))
    assert ours["av_offset"] == ref["av_offset"]
    assert abs(ours["lse_d"] - ref["lse_d"]) < 1e-4 * max(1, abs(ref["lse_d"]))
    assert abs(ours["lse_c"] - ref["lse_c"]) < 1e-4 * max(1, abs(ref["lse_d"]))


def test_lse_bad_inputs(standin):
    with pytest.raises(MetricInputError, match="too short"):
        lse_mod.lse(_crops(5), _speechlike(1.0))
    with pytest.raises(MetricInputError, match="needs audio"):
        lse_mod.lse(_crops(10), np.zeros(0, np.float32))


def test_missing_syncnet_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("EADBENCH_WEIGHTS", str(tmp_path))
    monkeypatch.setenv("EADBENCH_CACHE", str(tmp_path / "c"))
    with pytest.raises(WeightsMissingError, match="syncnet_v2.model .*robots.ox.ac.uk"):
        syncnet_mod.load_syncnet()


def test_all_black_crops_and_silence_give_finite_lse(standin):
    r = lse_mod.lse(np.zeros((10, 224, 224, 3), np.uint8), np.zeros(int(16000 * 0.5), np.float32))
    assert all(np.isfinite(v) for v in r.values())


# -- the three protocols against their loop-by-loop references ------------------------------------------

from eadbench.metrics.base import ClipMeta, MetricContext  # noqa: E402
from tests.reference import lse_variants_reference as variants  # noqa: E402


def _int16(audio):
    return np.clip(np.round(audio.astype(np.float64) * 32768), -32768, 32767)


def _evaluator(protocol=None, **options):
    return lse_mod.LSEEvaluator(MetricContext(protocol=protocol, options=options))


def _close(ours, ref):
    assert ours["av_offset"] == ref["av_offset"]
    assert abs(ours["lse_d"] - ref["lse_d"]) < 1e-4 * max(1, abs(ref["lse_d"]))
    assert abs(ours["lse_c"] - ref["lse_c"]) < 1e-4 * max(1, abs(ref["lse_d"]))


def test_syncnet_v2_evaluator_streams_like_the_functional_twin(standin):
    crops = _crops(34, seed=3)  # 29 windows: two lip segments
    audio = _speechlike(34 / 25 + 0.05, seed=3)
    ours = _evaluator().clip(ClipMeta("c", audio=audio), crops, chunk=7)
    _close(ours, lse_mod.lse(crops, audio))
    assert ours["face_frames_missing"] == 0 and "excluded" not in ours


def _frames(n, h=96, w=128, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (h, w, 3)).astype(np.float32)
    yy = np.arange(h)[:, None]
    return np.stack([np.clip(base * 0.6 + 90 * (np.abs(yy - 0.7 * h) < 4 + 5 * np.sin(i))[..., None], 0, 255)
                     .astype(np.uint8) for i in range(n)])


def test_wav2lip_lrs_equals_reference(standin):
    frames = _frames(14, seed=1)  # not square: resized whole to 224x224
    audio = _speechlike(14 / 25 + 0.1, seed=1)
    ev = _evaluator("wav2lip-lrs")
    assert ev.views() == ("frames", None)
    ours = ev.clip(ClipMeta("c", audio=audio), frames, chunk=5)
    _close(ours, variants.wav2lip_lrs(standin, frames, _int16(audio)))


def _face_clip(n, faces_at, cut=None, h=200, w=260, seed=0):
    """Frames with a textured face (a mouth bar that moves) in each given box; ``faces_at(i)`` ->
    [(box, score), ...]; the background colour changes at frame ``cut`` (a scene cut)."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(-12, 12, (h, w, 3))
    frames = []
    for i in range(n):
        colour = (40, 90, 160) if cut is None or i < cut else (210, 170, 30)
        f = np.clip(np.array(colour) + noise + (i % 5) - 2, 0, 255).astype(np.uint8)
        for box, _ in faces_at(i):
            x1, y1, x2, y2 = (int(round(v)) for v in box)
            x1, y1, x2, y2 = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
            f[y1:y2, x1:x2] = (70, 110, 150)  # close to the background: no scene cut where it moves
            mouth = int(y1 + 0.72 * (y2 - y1))
            half = 2 + int(6 * (1 + np.sin(0.9 * i)))
            f[max(mouth - half, 0):mouth + half, x1 + (x2 - x1) // 4:x2 - (x2 - x1) // 4] = (25, 35, 70)
        frames.append(f)
    return np.stack(frames)


def _detector(faces_at):
    seen = [0]

    def detect(frames):
        out = [list(faces_at(seen[0] + k)) for k in range(len(frames))]
        seen[0] += len(frames)
        return out

    return detect


def _latentsync(faces_at, frames, audio, **options):
    ev = _evaluator("latentsync", **options)
    assert ev.views() == ("frames", None)
    ev.detector = _detector(faces_at)
    return ev.clip(ClipMeta("c", audio=audio), frames)


def _small_expert(path):
    torch.manual_seed(0)
    torch.save({**syncnet_mod.SyncNetSmall().state_dict(), "arch": "small"}, path)
    return str(path)


def _lost_for_a_while(first_gap, gap):
    def faces_at(i):
        if first_gap <= i < first_gap + gap:
            return []
        jitter = 1.3 * np.sin(0.4 * i)
        return [((70.3 + jitter, 40.6, 188.9 + jitter, 171.2), 0.99)]

    return faces_at


def test_latentsync_face_lost_gives_two_tracks_averaged(standin, tmp_path):
    # min_track 20 keeps SyncNet v2's windows few: face in 0-21 (22 detections), lost for 26 frames
    # (more than the 25 their tracker bridges), back in 48-69
    n, faces_at = 70, _lost_for_a_while(22, 26)
    frames = _face_clip(n, faces_at, seed=2)
    audio = _speechlike(n / 25 + 0.1, seed=2)
    ours = _latentsync(faces_at, frames, audio, min_track=20)
    ref = variants.latentsync(standin, frames, [faces_at(i) for i in range(n)], _int16(audio), min_track=20)
    assert ref["tracks"] == [(0, 21), (48, 69)]
    assert ours["face_tracks"] == 2 and ours["track_frames"] == "0-21,48-69" and ours["scene_cuts"] == 0
    _close(ours, ref)
    confs = [r["lse_c"] for r in ref["per_track"]]
    assert abs(ours["lse_c"] - (confs[0] + confs[1]) / 2) < 1e-4 * max(1, abs(ref["lse_d"]))
    # their default, 50: 52 detections, 26 lost, 52 (a small expert keeps it quick)
    n, faces_at = 130, _lost_for_a_while(52, 26)
    frames = _face_clip(n, faces_at, seed=3)
    assert [(int(t["frame"][0]), int(t["frame"][-1])) for t in variants.latentsync_tracks(
        frames, [faces_at(i) for i in range(n)])] == [(0, 51), (78, 129)]
    ours = _latentsync(faces_at, frames, _speechlike(n / 25 + 0.1, seed=3),
                       syncnet_path=_small_expert(tmp_path / "small.pt"))
    assert ours["face_tracks"] == 2 and ours["track_frames"] == "0-51,78-129"
    per_track = [float(c) for c in ours["track_lse_c"].split(",")]
    assert abs(ours["lse_c"] - sum(per_track) / 2) < 1e-4


def test_latentsync_scene_cut_box_jump_and_dropped_tracks(standin):
    n, cut = 46, 27

    def faces_at(i):
        out = []
        if i < 14:
            out.append(((20.4, 30.2, 131.7, 160.9), 0.98))  # track 1
        else:
            out.append(((128.8, 25.1, 241.3, 158.4), 0.97))  # jumped (IoU 0): track 2; the cut: track 3
        if 5 <= i < 9:
            out.append(((150.2, 120.5, 200.1, 170.3), 0.95))  # 4 detections: too short a track
        if i >= 30:
            out.append(((2.0, 2.0, 60.0, 70.0), 0.93))  # 15 detections of a 58-69 px face: too small
        if i % 7 == 0:
            out.append(((30.0, 35.0, 128.0, 150.0), 0.5))  # below the score threshold
        return out

    frames = _face_clip(n, faces_at, cut=cut, seed=4)
    audio = _speechlike(n / 25 + 0.1, seed=4)
    ours = _latentsync(faces_at, frames, audio, min_track=10)
    ref = variants.latentsync(standin, frames, [faces_at(i) for i in range(n)], _int16(audio), min_track=10)
    # with a cut, the last scene ends at the last frame's index: frame 45 is not tracked
    assert ref["tracks"] == [(0, 13), (14, 26), (27, 44)]
    assert ours["scene_cuts"] == 1 and ours["track_frames"] == "0-13,14-26,27-44"
    _close(ours, ref)


def test_latentsync_tracks_match_reference_on_many_faces(tmp_path):
    n = 160
    jitter = np.random.default_rng(8).uniform(-3, 3, (n, 6, 2))
    misses = np.random.default_rng(9).random((n, 6)) < 0.08  # single missed detections (interpolated)
    # (first, stop, x, y, side, moved-to x from frame, frames without it, score): faces that vanish for
    # 31 frames, jump, are too short, too small, or overlap another and lose to it in the NMS
    paths = [(0, 150, 20, 30, 105, (None, None), range(40, 71), 0.99),
             (20, 125, 300, 40, 110, (390, 62), (), 0.97),
             (10, 31, 180, 180, 120, (None, None), (), 0.95),
             (0, 160, 400, 250, 50, (None, None), (), 0.96),
             (80, 91, 385, 45, 100, (None, None), (), 0.92),
             (100, 160, 170, 170, 115, (None, None), range(120, 124), 0.98)]

    def faces_at(i):
        out = []
        for k, (first, stop, x, y, side, (moved, since), gone, score) in enumerate(paths):
            if first <= i < stop and i not in gone and not misses[i, k]:
                x = moved if since is not None and i >= since else x
                dx, dy = jitter[i, k] + 0.1 * (i - first)
                box = (x + dx, y + dy, x + dx + side, y + dy + side * 1.1)
                out.append((box, score - 0.01 * ((i + k) % 3)))
        return out

    frames = _face_clip(n, lambda i: [], cut=97, h=330, w=500, seed=5)
    audio = _speechlike(n / 25 + 0.1, seed=5)
    ref = variants.latentsync_tracks(frames, [faces_at(i) for i in range(n)], min_track=8)
    assert len(ref) == 8  # 3 + 3 (split by the gap or jump, and by the cut at 97) + 2
    expert = _small_expert(tmp_path / "small.pt")
    ours = _latentsync(faces_at, frames, audio, min_track=8, syncnet_path=expert)
    assert ours["track_frames"] == ",".join(f"{int(t['frame'][0])}-{int(t['frame'][-1])}" for t in ref)


def test_latentsync_without_a_usable_track_is_excluded(tmp_path, standin):
    n = 40
    frames = _face_clip(n, lambda i: [], seed=6)
    out = _latentsync(lambda i: [((40.0, 40.0, 160.0, 170.0), 0.99)] if i < 30 else [], frames,
                      _speechlike(n / 25 + 0.1, seed=6))
    assert out["lse_c"] is None and out["face_tracks"] == 0
    assert out["excluded"].startswith("no face track of more than 50 detections")


# -- syncnet-v2's min_track ---------------------------------------------------------------------------

def test_min_track_excludes_short_clips_and_short_face_stretches(standin):
    crops, audio = _crops(12), _speechlike(12 / 25 + 0.1)
    out = _evaluator(min_track=20).clip(ClipMeta("c", audio=audio), crops)
    assert out["lse_c"] is None and "clip of 12 frames, not more than min_track=20" in out["excluded"]
    out = _evaluator(min_track=12).clip(ClipMeta("c", audio=audio, n_frames=12), crops)  # more than 12 needed
    assert "not more than min_track=12" in out["excluded"]
    ok = np.ones(12, bool)
    ok[5] = False  # the face box is unknown at frame 5: stretches of 5 and 6 frames
    out = _evaluator(min_track=6).clip(ClipMeta("c", audio=audio), crops, ok=ok)
    assert out["excluded"] == ("no face track of more than min_track=6 frames: the longest stretch with a "
                               "known face box is 6 of 12 frames")
    kept = _evaluator(min_track=5).clip(ClipMeta("c", audio=audio), crops, ok=ok)
    plain = _evaluator().clip(ClipMeta("c", audio=audio), crops, ok=ok)
    assert "excluded" not in kept and kept == plain and plain["face_frames_missing"] == 1


def test_min_track_option_is_checked(standin):
    from eadbench.errors import ChoiceError

    with pytest.raises(ChoiceError, match="min_track does not apply to protocol wav2lip-lrs"):
        _evaluator("wav2lip-lrs", min_track=10)
    with pytest.raises(ChoiceError, match="whole number of frames"):
        _evaluator(min_track="ten")
    assert _evaluator("latentsync").min_track == 50 and _evaluator().min_track == 0


def test_run_records_min_track_exclusion_as_a_row(standin, tmp_path):
    import pandas as pd

    from eadbench import config
    from eadbench import run as runner
    from eadbench.synth import write_dataset

    data = write_dataset(tmp_path / "synth", layout="mead", speakers=1, clips=1, seconds=1.2, size=128,
                         seed=1)
    cfg = config.resolve(None, dataset="synth", root=str(data), out=str(tmp_path / "r"), quiet=True,
                         metrics=["lse"])
    cfg.methods = [config.MethodSpec.parse("ground_truth")]
    config.apply_metric_flags(cfg, [], ["lse.min_track=100"])
    runner.run(cfg, echo=lambda s: None)
    rows = pd.read_csv(tmp_path / "r" / "per_clip.csv")
    lse_rows = rows[rows["metric"] == "lse"]
    assert len(lse_rows) == 3 and (lse_rows["status"] == "excluded").all()
    assert lse_rows["reason"].str.contains("not more than min_track=100").all()


def test_another_expert_is_named_in_the_protocol(tmp_path):
    """Numbers from a sync expert other than syncnet_v2.model are never reported as syncnet-v2@1."""
    import torch

    from eadbench.metrics import METRICS
    from eadbench.metrics.base import MetricContext
    from eadbench.nets.syncnet import SyncNetSmall

    path = tmp_path / "expert.pt"
    torch.save({**SyncNetSmall().state_dict(), "arch": "small"}, path)  # as `eadbench syncnet train` writes
    info = METRICS.get("lse")
    ev = info.factory(MetricContext(options={"syncnet_path": str(path)}))
    assert ev.protocol_key() == "syncnet-v2@1+custom-expert"
    ev = info.factory(MetricContext(protocol="syncnet-v2", options={"syncnet_path": str(path), "min_track": "100"}))
    assert ev.protocol_key() == "syncnet-v2@1+custom-expert+min_track=100"


def test_an_expert_that_never_learnt_is_refused_with_its_record(tmp_path):
    """An expert whose trainer recorded chance-level offset accuracy makes LSE unavailable with the
    reason (its numbers would be noise); EAD-Net's trainer can still read the file."""
    import json

    import torch

    from eadbench.errors import WeightsIntegrityError
    from eadbench.metrics import METRICS
    from eadbench.metrics.base import MetricContext
    from eadbench.nets.syncnet import SyncNetSmall, load_expert

    def expert(name: str, acc: float):
        path = tmp_path / name
        meta = {"steps": 400, "train_clips": 28, "heldout_clips": 0, "sync_accuracy": 0.51, "offset_accuracy": acc}
        torch.save({**SyncNetSmall().state_dict(), "arch": "small", "meta": json.dumps(meta)}, path)
        return str(path)

    bad, good = expert("bad.pt", 0.0), expert("good.pt", 0.9)
    with pytest.raises(WeightsIntegrityError, match="did not learn: offset accuracy 0.000 on its training clips"):
        METRICS.get("lse").factory(MetricContext(options={"syncnet_path": bad}))
    assert isinstance(load_expert(bad), SyncNetSmall)
    ev = METRICS.get("lse").factory(MetricContext(options={"syncnet_path": good}))
    assert ev.protocol_key() == "syncnet-v2@1+custom-expert"
