"""Face detection with MTCNN, whose real weights ship inside the facenet-pytorch wheel.

facenet-pytorch's MTCNN calls ``torchvision.ops.batched_nms``. Where torchvision's compiled ops
cannot load (CPU torch beside the registry's CUDA torchvision, see eadbench._torchvision), the
operator is served by eadbench's plain-torch NMS; torchvision's op guard is lifted only in
that case.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from eadbench.errors import WeightsMissingError
from eadbench.weights import locate

DETECTOR = "mtcnn-facenet-pytorch-2.6.0"
_LOCK = threading.Lock()
_MODEL = None


@dataclass(frozen=True)
class Face:
    box: np.ndarray  # x1, y1, x2, y2 (float, pixels)
    score: float
    landmarks: np.ndarray  # (5, 2): eyes, nose, mouth corners


def _mtcnn():
    global _MODEL
    with _LOCK:
        if _MODEL is None:
            for name in ("mtcnn-pnet", "mtcnn-rnet", "mtcnn-onet"):
                locate(name)  # a clear message when facenet-pytorch (or a file) is missing
            import eadbench._torchvision as tvpatch
            import torchvision.ops.boxes as tv_boxes

            if tvpatch.PATCHED:
                tv_boxes._assert_has_ops = lambda: None  # our registered fallback serves the op
            try:
                from facenet_pytorch import MTCNN
            except ImportError as exc:
                raise WeightsMissingError(f"face detector unavailable: cannot import facenet_pytorch ({exc}); "
                                          "pip install --no-deps facenet-pytorch==2.6.0") from None
            _MODEL = MTCNN(keep_all=True, device="cpu", post_process=False, select_largest=False)
        return _MODEL


def detect_batch(images: list[np.ndarray] | np.ndarray) -> list[list[Face]]:
    """Faces in each image (RGB uint8, same size within a call), best score first."""
    import torch

    model = _mtcnn()
    imgs = [np.ascontiguousarray(im) for im in images]
    if not imgs:
        return []
    with torch.inference_mode():
        boxes, probs, lms = model.detect(np.stack(imgs) if len({i.shape for i in imgs}) == 1 else imgs,
                                         landmarks=True)
    out = []
    for b, p, lm in zip(boxes, probs, lms):
        faces = []
        if b is not None:
            for bi, pi, li in zip(b, p, lm):
                faces.append(Face(np.asarray(bi, dtype=np.float64), float(pi), np.asarray(li, dtype=np.float64)))
        faces.sort(key=lambda f: -f.score)
        out.append(faces)
    return out


def detect_faces(image: np.ndarray) -> list[Face]:
    return detect_batch([image])[0]
