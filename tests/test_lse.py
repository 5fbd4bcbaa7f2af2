"""LSE-C/LSE-D/offset and MFCC against references: python_speech_features and an independent,
loop-by-loop implementation of syncnet_python's procedure, on the same stand-in SyncNet v2."""

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
    x = env * (0.4 * np.sin(2 * np.pi * 180 * t) + 0.2 * np.sin(2 * np.pi * 900 * t)) + 0.01 * rng.normal(size=t.size)
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
