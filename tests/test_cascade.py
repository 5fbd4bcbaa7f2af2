"""Issue 24: MTCNN's cascade from integral images (``eadbench.faces.cascade``) against
facenet-pytorch's own ``detect_face``, the reference it re-implements.

The resampling is checked bit for bit against ``torch.nn.functional.interpolate(mode="area")``
(the operation facenet-pytorch uses for the pyramid and for every candidate window); the
detections on real frames are checked against ``detect_face`` run on the same frames, to float
rounding (R-Net and O-Net see channels-last tensors here, NCHW there: the convolutions round
differently, by about 1e-7)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn.functional import interpolate

from eadbench.faces import cascade

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


@pytest.mark.parametrize("h,w,oh,ow", [(590, 590, 97, 97), (590, 590, 13, 13), (1920, 1080, 130, 73),
                                       (256, 256, 24, 24), (37, 211, 48, 48), (24, 24, 24, 24)])
def test_area_resampling_equals_torch_interpolate_bit_for_bit(h, w, oh, ow):
    rng = np.random.default_rng(h + w)
    frames = rng.integers(0, 256, (2, h, w, 3), dtype=np.uint8)
    ref = interpolate(torch.as_tensor(frames).permute(0, 3, 1, 2).float(), size=(oh, ow), mode="area")
    ii = np.stack([cascade.integral(f) for f in frames])
    ours = cascade.area_frames(ii, oh, ow)
    assert np.array_equal(ours, ref.permute(0, 2, 3, 1).numpy())
    # a window inside the frame, as R-Net's and O-Net's candidates are cut
    r0, r1, c0, c1 = h // 5, h - h // 7, w // 9, w - w // 3
    ref = interpolate(torch.as_tensor(frames[1:, r0:r1, c0:c1]).permute(0, 3, 1, 2).float(), size=(24, 24),
                      mode="area")
    ours = cascade.area_windows(ii, np.array([1]), np.array([r0]), np.array([r1]), np.array([c0]), np.array([c1]),
                                24, 24)
    assert np.array_equal(ours, ref.permute(0, 2, 3, 1).numpy())


def test_integral_refuses_frames_whose_sums_overflow():
    with pytest.raises(cascade.Unsupported):
        cascade.integral(np.zeros((4000, 3000, 3), np.uint8))


@pytest.mark.skipif(not REAL.is_dir(), reason=f"real clips not found at {REAL}")
@pytest.mark.parametrize("clip,min_face", [("retalking_3.mp4", None), ("mead_W011_front_happy_level3_001.mp4", 20),
                                           ("latentsync_demo1_video.mp4", None)])
def test_detections_equal_facenet_pytorch(clip, min_face):
    """facenet-pytorch's own MTCNN (its networks, its ``detect_face``) is the reference."""
    from facenet_pytorch.models.utils.detect_face import detect_face

    from eadbench.faces.video import pyramid_min_face
    from eadbench.media import read_frames
    from eadbench.nets.mtcnn import mtcnn

    model, ref = mtcnn(None), _facenet_mtcnn()
    frames = read_frames(REAL / clip, max_frames=6)
    mf = min_face or pyramid_min_face(min(frames.shape[1:3]) / 8)
    with torch.inference_mode():
        ref_b, ref_p = detect_face(frames, mf, ref.pnet, ref.rnet, ref.onet, ref.thresholds, ref.factor, ref.device)
        ours_b, ours_p = cascade.detect_face(frames, mf, model.pnet, model.rnet, model.onet, model.thresholds,
                                             model.factor)
    assert len(ours_b) == len(ref_b) == len(frames)
    for rb, rp, ob, op in zip(ref_b, ref_p, ours_b, ours_p):
        rb, rp = np.asarray(rb, dtype=np.float64), np.asarray(rp, dtype=np.float64)
        assert ob.shape == rb.shape and len(rb) >= 1
        np.testing.assert_allclose(ob, rb, rtol=0, atol=1e-3)  # pixels and scores
        np.testing.assert_allclose(op, rp, rtol=0, atol=1e-3)


def _facenet_mtcnn():
    from eadbench.nets.mtcnn import patch_torchvision_ops

    patch_torchvision_ops()
    from facenet_pytorch import MTCNN

    return MTCNN(keep_all=True, device="cpu", post_process=False, select_largest=False)


def test_networks_equal_facenet_pytorchs_bit_for_bit():
    """eadbench's P-Net, R-Net and O-Net (built here, so scoring never imports torchvision) give
    facenet-pytorch's outputs exactly, with its settings, and keep torchvision out of the process."""
    import subprocess
    import sys

    from eadbench.nets.mtcnn import mtcnn

    ours, ref = mtcnn(None), _facenet_mtcnn()
    assert (ours.min_face_size, tuple(ours.thresholds), ours.factor) == (ref.min_face_size, tuple(ref.thresholds),
                                                                         ref.factor)
    rng = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        for a, b, shape in ((ours.pnet, ref.pnet, (3, 3, 61, 47)), (ours.rnet, ref.rnet, (9, 3, 24, 24)),
                            (ours.onet, ref.onet, (5, 3, 48, 48))):
            x = torch.rand(shape, generator=rng) * 2 - 1
            for o, r in zip(a(x), b(x)):
                assert torch.equal(o, r)
    probe = ("import sys; from eadbench.faces.detect import detect_batch; import numpy as np; "
             "detect_batch([np.zeros((64, 64, 3), np.uint8)]); print('torchvision' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_groups_of_large_frames_are_split_with_the_same_result(monkeypatch):
    """Frames are detected in groups sized so their integral images stay bounded; a smaller
    group gives the same faces."""
    import skimage.data

    from eadbench.nets.mtcnn import mtcnn

    model = mtcnn(None)
    img = skimage.data.astronaut()
    frames = np.stack([img, img[:, ::-1].copy(), img])
    args = (40, model.pnet, model.rnet, model.onet, model.thresholds, model.factor)
    with torch.inference_mode():
        whole = cascade.detect_face(frames, *args)
        monkeypatch.setattr(cascade, "GROUP_BYTES", 1)
        split = cascade.detect_face(frames, *args)
    for a, b in zip(whole[0], split[0]):
        assert len(a) >= 1
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-3)
