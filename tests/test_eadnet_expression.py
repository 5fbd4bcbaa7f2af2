"""EAD-Net's lower-face expression loss (``eadnet.expression``, ``w_expr``): the classifier learns an
expression told by the lower face alone (held-out utterances, speakers differing in brightness),
saves and loads exactly, its loss reaches only the lower face and skips windows without a known
emotion, and a training step with it runs (a missing classifier is a one-line error)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from eadnet.config import EADNetConfig
from eadnet.data import ClipTensors, WindowIndex, load_prepared
from eadnet.expression import ExpressionLoss, load_classifier, lower_faces, save_classifier, train_classifier
from eadnet.train import Trainer

from eadbench.errors import WeightsMissingError
from eadbench.labels import EMOTIONS
from eadbench.prepare import prepare_dataset
from eadbench.synth import write_dataset

SIZE = 32
CLASSES = ("happy", "sad", "surprised")


def clip(speaker: int, utterance: int, emotion: str, gen: torch.Generator) -> ClipTensors:
    """A face whose lower half carries the expression (a bar at an emotion's row) and whose
    brightness is the speaker's: only the bar tells the classes apart."""
    frames = torch.full((3, 10, SIZE, SIZE), -0.6 + 0.4 * speaker)
    row = SIZE // 2 + 3 + 4 * CLASSES.index(emotion)
    frames[:, :, row:row + 2, 8:24] += 0.8
    frames += 0.05 * torch.randn(frames.shape, generator=gen)
    return ClipTensors(f"S{speaker}_{emotion}_{utterance}", frames.clamp(-1, 1), torch.zeros(10, 10, 40),
                       torch.zeros(13, 40), f"a {emotion} face", 0.5, f"S{speaker}", emotion,
                       utterance=f"{utterance:03d}")


def test_the_classifier_learns_the_lower_face_expression_and_round_trips(tmp_path):
    gen = torch.Generator().manual_seed(0)
    clips = [clip(s, u, e, gen) for s in range(2) for u in range(5) for e in CLASSES]
    model, report = train_classifier(clips, steps=120, batch=64, holdout=0.3, progress=False)
    assert report["heldout_frames"] > 0 and report["heldout_accuracy"] >= 0.9, report
    assert report["classes"] == [e for e in EMOTIONS if e in CLASSES]
    # the upper half never matters: wiping it changes nothing the classifier sees
    x = torch.stack([c.frames for c in clips[:4]])
    wiped = x.clone()
    wiped[..., :SIZE // 2, :] = 0
    assert torch.equal(lower_faces(x), lower_faces(wiped))
    save_classifier(model, tmp_path / "expr.safetensors")
    again = load_classifier(tmp_path / "expr.safetensors")
    faces = lower_faces(x)
    with torch.no_grad():
        assert torch.equal(model(faces), again(faces))


def test_the_loss_reaches_only_the_lower_face_and_skips_unknown_emotions():
    torch.manual_seed(0)
    loss = ExpressionLoss(load_classifier_untrained())
    x0 = (torch.rand(3, 3, 4, SIZE, SIZE) * 2 - 1).requires_grad_(True)
    labels = torch.tensor([EMOTIONS.index("happy"), EMOTIONS.index("sad"), 0])
    value = loss(x0, labels, torch.tensor([1.0, 1.0, 0.0]))
    value.backward()
    g = x0.grad.abs()
    assert g[..., SIZE // 2:, :].sum() > 0 and g[..., :SIZE // 2, :].sum() == 0
    assert g[2].sum() == 0  # weight 0: the window without a known emotion adds nothing
    alone = loss(x0[:2].detach(), labels[:2], torch.ones(2))
    assert float(value.detach()) == pytest.approx(float(alone), rel=1e-6)
    assert all(not p.requires_grad for p in loss.classifier.parameters())


def load_classifier_untrained():
    from eadnet.expression import LowerFaceClassifier

    return LowerFaceClassifier()


def test_a_training_step_with_the_expression_loss(tmp_path):
    root = write_dataset(tmp_path / "synth", layout="mead", speakers=1, clips=2, seconds=1.2, size=128, seed=4)
    prepare_dataset("synth", root, tmp_path / "prep", protocols=("face256",), progress=False)
    small = dict(size=32, frames=8, channels=(16, 32), attention_levels=(False, True), cond_dim=32, heads=2, groups=4,
                 w_sync=0.0, w_lpips=0.0, w_trepa=0.0, batch_size=2)
    path = tmp_path / "expr.safetensors"
    save_classifier(load_classifier_untrained(), path)
    cfg = EADNetConfig.preset_config("tiny", **small, w_expr=0.1, expr_path=str(path))
    clips = load_prepared(tmp_path / "prep" / "synth", cfg)
    tr = Trainer(cfg, device="cpu")
    logs = tr.train_step(clips, WindowIndex(clips, cfg.frames, 0))
    assert np.isfinite(logs["expr"]) and logs["expr"] > 0
    assert logs["total"] == pytest.approx(logs["noise"] + 0.1 * logs["expr"], rel=1e-5)
    with pytest.raises(WeightsMissingError, match="expr_path"):
        Trainer(EADNetConfig.preset_config("tiny", **small, w_expr=0.1), device="cpu")
