"""CSIM, protocol ``facenet-vggface2-face256`` (v1): cosine similarity between the FaceNet
(InceptionResnetV1, VGGFace2 weights ``20180402-114759-vggface2.pt``; ``eadbench.nets.facenet``)
identity embedding of every generated frame and that of the reference identity (the first real
frame), averaged over frames. Faces: the ``face256`` crop's centre (the box plus a small
margin) resized to 160x160, standardised as facenet-pytorch does ((x - 127.5) / 128)."""

from __future__ import annotations

import numpy as np
import torch

from eadbench.errors import MetricInputError
from eadbench.faces.crop import face_box
from eadbench.metrics.base import (
    HIGHER,
    Chunk,
    ClipMeta,
    Column,
    Evaluator,
    MetricProtocol,
    TorchMetric,
    register_metric,
)
from eadbench.metrics.evaluators import FrameValues
from eadbench.nets.facenet import INPUT_SIZE, embed, facenet

PROTOCOL = MetricProtocol("facenet-vggface2-face256", "1", "face256", (("network", "facenet-vggface2"),
                                                                       ("reference", "first real frame"),
                                                                       ("size", INPUT_SIZE)),
                          "FaceNet cosine to the first real frame")


def csim(fake_faces: np.ndarray, reference_face: np.ndarray, store=None) -> float:
    """Functional twin: mean cosine similarity of generated face256 crops to one reference
    face256 crop (both reduced to their centre, the face box, as the evaluator does)."""
    return float(csim_frames(facenet(store), fake_faces, reference_face).mean())


def csim_frames(net, fake_faces: np.ndarray, reference_face: np.ndarray) -> torch.Tensor:
    """Per-frame cosine similarity of generated face256 crops to one reference face256 crop."""
    e, r = embed(net, face_box(np.asarray(fake_faces))), embed(net, face_box(np.asarray(reference_face)[None]))
    return torch.nn.functional.cosine_similarity(e, r.expand_as(e))


@register_metric(
    name="csim", direction=HIGHER, level="clip", outputs=("csim",), needs=("real",), weights=("facenet-vggface2",),
    protocols=(PROTOCOL,),
    description="identity similarity (FaceNet cosine) of generated frames to the reference identity frame",
    functional=csim, order=120, columns=(Column("csim", "CSIM", 4),),
    torchmetric=TorchMetric("CSIM", "update(fake_face256, reference_face256)",
                            nets=lambda store, protocol: facenet(store),
                            frame_values=csim_frames),
)
class CSIMEvaluator(Evaluator):
    def __init__(self, ctx):
        super().__init__(ctx)
        self.store.verified("facenet-vggface2")

    def begin(self, meta: ClipMeta) -> dict:
        return {"ref": None, "values": FrameValues()}

    def update(self, state: dict, chunk: Chunk) -> None:
        net = facenet(self.store)
        if state["ref"] is None:
            state["ref"] = embed(net, face_box(chunk.real[:1]))
        e = embed(net, face_box(chunk.fake))
        state["values"].add(torch.nn.functional.cosine_similarity(e, state["ref"].expand_as(e)).numpy())

    def end(self, state: dict) -> dict:
        if state["ref"] is None:
            raise MetricInputError("no frames to compare")
        return {"csim": state["values"].mean()}
