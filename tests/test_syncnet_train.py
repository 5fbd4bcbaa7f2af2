"""Sync expert trained on synthetic clips: the LSE offset of a clip whose audio is shifted by k
frames comes out as -k when the audio is delayed, +k when it is advanced; resume works."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from eadbench import media
from eadbench.cli.main import app
from eadbench.metrics import lse as lse_mod
from eadbench.nets import syncnet as syncnet_mod  # noqa: F401
from eadbench.prepare import iter_prepared, prepare_dataset
from eadbench.synth import write_dataset

# the module trains sync experts (minutes in all): CI runs it with `pytest -m slow`
pytestmark = pytest.mark.slow

cli = CliRunner()


@pytest.fixture(scope="module")
def expert(tmp_path_factory):
    d = tmp_path_factory.mktemp("sync")
    root = write_dataset(d / "synth", layout="mead", speakers=2, clips=3, seconds=2.0, size=160, seed=7)
    prepare_dataset("synth", root, d / "prep", protocols=("syncnet", "face256"), progress=False)
    out = d / "expert.pt"
    torch.set_num_threads(2)
    r = cli.invoke(app, ["syncnet", "train", "--data", str(d / "prep" / "synth"), "--out", str(out),
                         "--steps", "320", "--quiet"])
    assert r.exit_code == 0, r.output
    assert "held-out sync accuracy" in r.output
    return out, list(iter_prepared(d / "prep" / "synth"))


def _shift(audio: np.ndarray, k: int) -> np.ndarray:
    """Delay (k > 0) or advance (k < 0) the audio by k video frames (640 samples each)."""
    n = abs(k) * 640
    if k > 0:
        return np.concatenate([np.zeros(n, np.float32), audio])[: len(audio)]
    return np.concatenate([audio[n:], np.zeros(n, np.float32)])


def test_offset_of_shifted_audio_is_recovered(expert):
    path, clips = expert
    train_speakers = sorted({c.meta["clip"]["speaker"] for c in clips})[:-1]  # the trainer holds out the last
    clip = next(c for c in clips if c.meta["clip"]["speaker"] in train_speakers)
    crops = media.read_frames(clip.crops["syncnet"])
    audio = media.read_audio(clip.audio)
    assert lse_mod.lse(crops, audio, syncnet_path=str(path))["av_offset"] == 0
    assert lse_mod.lse(crops, _shift(audio, 3), syncnet_path=str(path))["av_offset"] == -3
    assert lse_mod.lse(crops, _shift(audio, -2), syncnet_path=str(path))["av_offset"] == 2
    synced = lse_mod.lse(crops, audio, syncnet_path=str(path))
    shuffled = lse_mod.lse(crops, np.random.default_rng(0).permutation(audio), syncnet_path=str(path))
    assert synced["lse_c"] > shuffled["lse_c"]


def test_resume_continues_from_checkpoint(expert, tmp_path):
    path, _ = expert
    ckpt = path.with_name(path.name + ".ckpt")
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    assert state["step"] == 320
    from eadbench.nets.syncnet import load_expert

    assert load_expert(path).arch == "small"


def test_an_expert_for_eadnet_learns_from_face256_crops_on_every_clip(expert, tmp_path):
    """EAD-Net's sync loss sees the lower half of face256 crops, so its expert learns from those;
    with --holdout 0 every clip trains and the printed accuracies are training-set figures.
    Steps: those of `ablate --syncnet auto`. At 320 the expert failed to learn (LSE-C 0.009,
    offset 15) on one variant of this data: the synthetic first clip's last frames came out a few
    levels different in a full-suite run than when generated alone; 400 learns on both variants."""
    from eadbench.ablate import EXPERT_STEPS

    path, clips = expert
    out = tmp_path / "face256.pt"
    r = cli.invoke(app, ["syncnet", "train", "--data", str(path.parent / "prep" / "synth"), "--out", str(out),
                         "--steps", str(EXPERT_STEPS), "--crop", "face256", "--holdout", "0", "--quiet"])
    assert r.exit_code == 0, r.output
    assert "training-set (nothing held out) sync accuracy" in r.output
    meta = json.loads(torch.load(out, weights_only=True)["meta"])
    assert meta["train_clips"] == len(clips) and meta["heldout_clips"] == 0  # training-set figures
    clip = clips[0]
    crops = media.read_frames(clip.crops["face256"])
    audio = media.read_audio(clip.audio)
    assert lse_mod.lse(crops, audio, syncnet_path=str(out))["av_offset"] == 0
    assert lse_mod.lse(crops, _shift(audio, 3), syncnet_path=str(out))["av_offset"] == -3
    bad = cli.invoke(app, ["syncnet", "train", "--data", str(path.parent / "prep" / "synth"), "--out", str(out),
                           "--crop", "face224"])
    assert bad.exit_code != 0 and "face224 crops" in bad.output
    r = cli.invoke(app, ["syncnet", "train", "--data", str(path.parent / "prep" / "synth"), "--out", str(out),
                         "--holdout", "1"])
    assert r.exit_code != 0 and "--holdout must be in [0, 1)" in r.output
