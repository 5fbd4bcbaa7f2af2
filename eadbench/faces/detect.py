"""Face detection with MTCNN (``eadbench.nets.mtcnn``, real weights from facenet-pytorch).

On the CPU the cascade runs from integral images (``eadbench.faces.cascade``: facenet-pytorch's
own networks and steps, its resampling reproduced exactly, 2-3x cheaper); on a GPU it is
facenet-pytorch's ``detect_face`` itself.

``detect_batch`` takes RGB frames, optionally downscaled first (``scale`` < 1: the detector
sees a smaller image, boxes and landmarks are mapped back to the original pixels), and
returns every face of each frame, best score first.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from eadbench.nets.mtcnn import mtcnn
from eadbench.weights import WeightStore


@dataclass(frozen=True)
class Face:
    box: np.ndarray  # x1, y1, x2, y2 (float, pixels)
    score: float
    landmarks: np.ndarray  # (5, 2): eyes, nose, mouth corners


def downscale(image: np.ndarray, scale: float) -> np.ndarray:
    """The frame the detector sees when detecting at ``scale`` (area interpolation)."""
    if scale >= 1.0:
        return image
    h, w = image.shape[:2]
    return cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def detect_batch(images: list[np.ndarray] | np.ndarray, store: WeightStore | None = None,
                 scale: float = 1.0, prepared: bool = False, min_face: float | None = None) -> list[list[Face]]:
    """Faces in each image (RGB uint8, same size within a call), best score first, in the
    original image's pixels. ``prepared``: the images were already downscaled by ``scale``;
    ``min_face``: the smallest face the pyramid looks for, in the detector's pixels (None:
    MTCNN's 20)."""
    import torch

    from eadbench.faces import cascade

    model = mtcnn(store)
    imgs = [np.ascontiguousarray(im if prepared else downscale(im, scale)) for im in images]
    if not imgs:
        return []
    args = (min_face or model.min_face_size, model.pnet, model.rnet, model.onet, model.thresholds, model.factor)
    with torch.inference_mode():  # MTCNN.detect's own call, with the pyramid's smallest face chosen
        try:
            if torch.device(model.device).type != "cpu" or len({i.shape for i in imgs}) != 1:
                raise cascade.Unsupported("a GPU, or frames of several sizes")
            boxes, lms = cascade.detect_face(imgs, *args)  # the same cascade, from integral images
        except cascade.Unsupported:
            from facenet_pytorch.models.utils.detect_face import detect_face

            from eadbench.nets.mtcnn import patch_torchvision_ops

            patch_torchvision_ops()
            boxes, lms = detect_face(np.stack(imgs) if len({i.shape for i in imgs}) == 1 else imgs, *args,
                                     model.device)
    inv = 1.0 / scale if scale < 1.0 else 1.0
    out = []
    for b, lm in zip(boxes, lms):
        faces = [Face(np.asarray(bi[:4], dtype=np.float64) * inv, float(bi[4]), np.asarray(li, dtype=np.float64) * inv)
                 for bi, li in zip(b, lm)]
        faces.sort(key=lambda f: -f.score)
        out.append(faces)
    return out


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boxes x1, y1, x2, y2."""
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def detect_faces(image: np.ndarray, store: WeightStore | None = None) -> list[Face]:
    return detect_batch([image], store)[0]
