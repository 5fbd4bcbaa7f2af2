"""FaceNet (InceptionResnetV1, VGGFace2 weights ``20180402-114759-vggface2.pt``) for CSIM.

facenet-pytorch's architecture with the located, verified state dict (its classifier head
``logits.*`` dropped): 512-d identity embeddings of 160x160 faces standardised as
facenet-pytorch does, ``(x - 127.5) / 128``.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from eadbench.errors import WeightsIntegrityError, WeightsMissingError
from eadbench.weights import WeightStore


def _build(store: WeightStore) -> torch.nn.Module:
    from eadbench.nets.mtcnn import patch_torchvision_ops

    patch_torchvision_ops()
    try:
        from facenet_pytorch.models.inception_resnet_v1 import InceptionResnetV1
    except ImportError as exc:
        raise WeightsMissingError(f"CSIM needs facenet-pytorch ({exc}); "
                                  "pip install --no-deps facenet-pytorch==2.6.0") from None
    state = {k: v for k, v in store.state_dict("facenet-vggface2").items() if not k.startswith("logits.")}
    net = InceptionResnetV1(pretrained=None)
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        raise WeightsIntegrityError(f"{store.path('facenet-vggface2')}: not an InceptionResnetV1 state dict "
                                    f"({str(exc).splitlines()[0][:120]})") from None
    return net


def facenet(store: WeightStore | None = None) -> torch.nn.Module:
    store = store or WeightStore()
    return store.network("facenet-vggface2", ("facenet-vggface2",), _build)


#: the network's input side: faces are area-resized to INPUT_SIZE x INPUT_SIZE
INPUT_SIZE = 160


def embed(net: torch.nn.Module, faces: np.ndarray, batch: int = 32) -> torch.Tensor:
    """(N, 512) embeddings of RGB face images (any size; area-resized to INPUT_SIZE x INPUT_SIZE)."""
    size = (INPUT_SIZE, INPUT_SIZE)
    x = np.stack([cv2.resize(np.ascontiguousarray(f), size, interpolation=cv2.INTER_AREA) for f in faces])
    t = (torch.from_numpy(x).permute(0, 3, 1, 2).float() - 127.5) / 128.0
    device = next(net.parameters()).device
    with torch.inference_mode():
        return torch.cat([net(t[i:i + batch].to(device)).cpu() for i in range(0, len(t), batch)])
