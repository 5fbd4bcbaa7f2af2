"""FVD: TF 'SAME' padding and kernel layout against direct numpy computations, the Frechet
distance against scipy, the real Kinetics I3D weights, and both protocols' sampling."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import linalg

from eadbench.errors import MetricInputError
from eadbench.metrics import fvd as fvd_mod
from eadbench.metrics.frechet import frechet_distance_from_features
from eadbench.nets.i3d import SameConv3d, SameMaxPool3d, kinetics_i3d, load_tf_variables, same_pads


def np_same_conv(x, k, stride):
    """Direct TF-semantics conv: x (T,H,W,Cin), kernel (kt,kh,kw,Cin,Cout), asymmetric SAME pad."""
    pads = []
    for n, kk, s in zip(x.shape[:3], k.shape[:3], stride):
        out = -(-n // s)
        total = max((out - 1) * s + kk - n, 0)
        pads.append((total // 2, total - total // 2))
    xp = np.pad(x, pads + [(0, 0)])
    outs = [-(-n // s) for n, s in zip(x.shape[:3], stride)]
    y = np.zeros(outs + [k.shape[4]])
    for t in range(outs[0]):
        for i in range(outs[1]):
            for j in range(outs[2]):
                win = xp[t * stride[0]:t * stride[0] + k.shape[0], i * stride[1]:i * stride[1] + k.shape[1],
                         j * stride[2]:j * stride[2] + k.shape[2]]
                y[t, i, j] = np.tensordot(win, k, axes=([0, 1, 2, 3], [0, 1, 2, 3]))
    return y


def np_same_maxpool(x, k, stride):
    pads = []
    for n, kk, s in zip(x.shape[:3], k, stride):
        out = -(-n // s)
        total = max((out - 1) * s + kk - n, 0)
        pads.append((total // 2, total - total // 2))
    xp = np.pad(x, pads + [(0, 0)], constant_values=-np.inf)
    outs = [-(-n // s) for n, s in zip(x.shape[:3], stride)]
    y = np.zeros(outs + [x.shape[3]])
    for t in range(outs[0]):
        for i in range(outs[1]):
            for j in range(outs[2]):
                y[t, i, j] = xp[t * stride[0]:t * stride[0] + k[0], i * stride[1]:i * stride[1] + k[1],
                                j * stride[2]:j * stride[2] + k[2]].max(axis=(0, 1, 2))
    return y


@pytest.mark.parametrize("shape,kernel,stride", [((5, 7, 6), (3, 3, 3), (1, 1, 1)), ((6, 9, 8), (7, 7, 7), (2, 2, 2)),
                                                 ((4, 5, 5), (1, 3, 3), (1, 2, 2)), ((3, 4, 4), (2, 2, 2), (2, 2, 2))])
def test_same_conv_and_kernel_layout_match_numpy(shape, kernel, stride):
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape + (2,)).astype(np.float32)
    k = rng.normal(size=kernel + (2, 3)).astype(np.float32)  # TF layout (T,H,W,Cin,Cout)
    unit = SameConv3d(2, 3, kernel, stride, relu=False)
    with torch.no_grad():
        unit.conv.weight.copy_(torch.from_numpy(k).permute(4, 3, 0, 1, 2))
        unit.conv.bias.zero_()
        ours = unit(torch.from_numpy(x).permute(3, 0, 1, 2)[None])[0].permute(1, 2, 3, 0).numpy()
    np.testing.assert_allclose(ours, np_same_conv(x, k, stride), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("shape,kernel,stride", [((5, 7, 6), (1, 3, 3), (1, 2, 2)), ((5, 7, 7), (3, 3, 3), (2, 2, 2)),
                                                 ((4, 6, 5), (2, 2, 2), (2, 2, 2)), ((3, 5, 5), (3, 3, 3), (1, 1, 1))])
def test_same_maxpool_pads_with_minus_infinity_at_the_end(shape, kernel, stride):
    x = np.random.default_rng(1).normal(size=shape + (2,)).astype(np.float32) - 5  # all negative: zero-pad would show
    ours = SameMaxPool3d(kernel, stride)(torch.from_numpy(x).permute(3, 0, 1, 2)[None])[0].permute(1, 2, 3, 0).numpy()
    np.testing.assert_allclose(ours, np_same_maxpool(x, kernel, stride), rtol=1e-6)
    assert same_pads((5,), (2,), (2,)) == [0, 1]  # TF puts the odd pixel at the end


def test_frechet_distance_matches_direct_scipy():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(60, 8)), rng.normal(0.3, 1.2, size=(50, 8))
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    ref = ((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real)
    assert frechet_distance_from_features(a, b) == pytest.approx(ref, rel=1e-9)


def test_real_i3d_weights_load_and_give_finite_logits():
    v = load_tf_variables(__import__("eadbench").weights.locate("i3d-kinetics-400").path)
    assert len(v) == 230 and v["params/Conv3d_1a_7x7/Conv_0/kernel"].shape == (7, 7, 7, 3, 64)
    m = kinetics_i3d()
    x = torch.linspace(-1, 1, 3 * 16 * 224 * 224).reshape(1, 3, 16, 224, 224)
    with torch.inference_mode():
        y = m(x)
    assert y.shape == (1, 400) and torch.isfinite(y).all() and y.std() > 0.1


def _videos(seed, n=3, t=16, noise=0.0):
    rng = np.random.default_rng(seed)
    vids = []
    for i in range(n):
        base = np.zeros((t, 112, 112, 3), np.float32)
        yy, xx = np.mgrid[0:112, 0:112]
        for f in range(t):  # a moving bright blob on a gradient
            cx, cy = 30 + 3 * f + 10 * i, 50 + 5 * np.sin(f / 3 + i)
            base[f] = (xx[..., None] * 0.8 + 60 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2)[..., None] / 200))
        base += rng.normal(0, noise, base.shape)
        vids.append(np.clip(base, 0, 255).astype(np.uint8))
    return vids


def test_fvd_zero_on_identical_sets_and_orders_perturbations():
    real = _videos(0)
    assert fvd_mod.fvd(real, real) == 0.0  # identical sets: exactly 0, not round-off of either sign
    from eadbench.metrics.frechet import frechet_distance, frechet_distance_from_features, gaussian_stats

    f = np.random.default_rng(1).normal(size=(2, 400))  # two clips' logits: a rank-1 covariance
    assert frechet_distance_from_features(f, f.copy()) == 0.0
    assert abs(frechet_distance(*gaussian_stats(f), *gaussian_stats(f))) < 1e-2  # the arithmetic: near 0
    near = fvd_mod.fvd([np.clip(v.astype(int) + 3, 0, 255).astype(np.uint8) for v in real], real)
    rng = np.random.default_rng(5)
    far = fvd_mod.fvd([rng.integers(0, 255, v.shape, dtype=np.uint8) for v in real], real)
    assert 0 < near < far


def test_protocol_sampling_and_too_short_videos():
    sg, ls = fvd_mod.get_protocol("stylegan-v"), fvd_mod.get_protocol("latentsync")
    v = (np.arange(50)[:, None, None, None] * np.ones((1, 8, 8, 3))).astype(np.uint8)
    clips = sg.clips(v, clips_per_video=5)
    assert len(clips) == 3 and clips[1][0, 0, 0, 0] == 16  # non-overlapping from the start
    one = ls.clips(v)
    assert len(one) == 1 and one[0][0, 0, 0, 0] == 20 and one[0][-1, 0, 0, 0] == 35
    x = ls.preprocess(one[0])
    assert x.shape == (3, 16, 224, 224) and x.min() >= 0 and x.max() <= 1
    assert sg.preprocess(clips[0]).min() < 0
    with pytest.raises(MetricInputError, match="needs at least 36"):
        ls.clips(v[:30])
    with pytest.raises(MetricInputError, match="needs at least 16"):
        sg.clips(v[:10])
    with pytest.raises(MetricInputError, match="unknown FVD protocol"):
        fvd_mod.get_protocol("nope")
