"""CSIM, protocol ``facenet-vggface2-face256`` (v1): cosine similarity between the FaceNet
(InceptionResnetV1, VGGFace2 weights ``20180402-114759-vggface2.pt``) identity embedding of
every generated frame and that of the reference identity (the first real frame), averaged over
frames. Faces: the ``face256`` crop's centre (the box plus a small margin) resized to 160x160,
standardised as facenet-pytorch does ((x - 127.5) / 128)."""

from __future__ import annotations

import threading
from functools import cached_property

import cv2
import numpy as np
import torch

from eadbench.errors import MetricInputError, WeightsIntegrityError, WeightsMissingError
from eadbench.metrics.base import HIGHER, ClipInput, Evaluator, register_metric, torchmetrics_classes
from eadbench.metrics.emotion import face_box
from eadbench.weights import file_sha256, load_state_dict, verified

_LOCK = threading.Lock()
_NETS: dict[str, torch.nn.Module] = {}


def facenet(weights_dir: str | None = None) -> torch.nn.Module:
    loc = verified("facenet-vggface2", weights_dir)
    with _LOCK:
        if str(loc.path) not in _NETS:
            from eadbench.faces.detect import _mtcnn  # noqa: F401  (torchvision op guard, see faces.detect)

            try:
                from facenet_pytorch.models.inception_resnet_v1 import InceptionResnetV1
            except ImportError as exc:
                raise WeightsMissingError(f"CSIM needs facenet-pytorch ({exc}); "
                                          "pip install --no-deps facenet-pytorch==2.6.0") from None
            state = {k: v for k, v in load_state_dict("facenet-vggface2", weights_dir).items()
                     if not k.startswith("logits.")}
            net = InceptionResnetV1(pretrained=None)
            try:
                net.load_state_dict(state)
            except RuntimeError as exc:
                raise WeightsIntegrityError(f"{loc.path}: not an InceptionResnetV1 state dict "
                                            f"({str(exc).splitlines()[0][:120]})") from None
            _NETS[str(loc.path)] = net.eval()
        return _NETS[str(loc.path)]


def embed(net: torch.nn.Module, faces: np.ndarray, batch: int = 32) -> torch.Tensor:
    x = np.stack([cv2.resize(np.ascontiguousarray(f), (160, 160), interpolation=cv2.INTER_AREA) for f in faces])
    t = (torch.from_numpy(x).permute(0, 3, 1, 2).float() - 127.5) / 128.0
    with torch.inference_mode():
        return torch.cat([net(t[i:i + batch]) for i in range(0, len(t), batch)])


def csim(fake_faces: np.ndarray, reference_face: np.ndarray, weights_dir: str | None = None) -> float:
    net = facenet(weights_dir)
    e, r = embed(net, fake_faces), embed(net, reference_face[None])
    return float(torch.nn.functional.cosine_similarity(e, r.expand_as(e)).mean())


class _CSIM:
    higher_is_better = True
    full_state_update = False

    def __init__(self, weights_dir: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.net = facenet(weights_dir)
        self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, fake_faces, reference_face) -> None:
        e, r = embed(self.net, fake_faces), embed(self.net, np.asarray(reference_face)[None])
        self.total += torch.nn.functional.cosine_similarity(e, r.expand_as(e)).double().sum()
        self.count += len(e)

    def compute(self):
        return self.total / self.count


@register_metric(
    name="csim", direction=HIGHER, level="clip", outputs=("csim",), needs=("real",), weights=("facenet-vggface2",),
    protocol="facenet-vggface2-face256", protocol_version="1", face=True, crop_protocol="face256",
    description="identity similarity (FaceNet cosine) of generated frames to the reference identity frame",
)
class CSIMEvaluator(Evaluator):
    def __init__(self, ctx):
        super().__init__(ctx)
        self.sha = file_sha256(verified("facenet-vggface2", ctx.weights_dir).path)

    @cached_property
    def net(self):
        """Built on first use: a fully cached run never builds FaceNet."""
        return facenet(self.ctx.weights_dir)

    def weights_used(self):
        return {"facenet-vggface2": self.sha}

    def clip(self, item: ClipInput) -> dict:
        if item.faces is None:
            raise MetricInputError("CSIM needs face crops")
        fake = face_box(item.faces("fake", "face256"))
        ref = face_box(item.faces("real", "face256")[:1])[0]
        e, r = embed(self.net, fake), embed(self.net, ref[None])
        return {"csim": float(torch.nn.functional.cosine_similarity(e, r.expand_as(e)).mean())}


__getattr__ = torchmetrics_classes(__name__, CSIM=_CSIM)
