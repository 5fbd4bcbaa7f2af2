"""MTCNN face detector: the three networks of facenet-pytorch 2.6.0 (P-Net, R-Net, O-Net), built
here layer for layer as facenet-pytorch builds them, with its weights (they ship inside the
facenet-pytorch wheel; located and hash-checked by the weight store, loaded ``weights_only``).

Building them here rather than through ``facenet_pytorch.MTCNN`` keeps torchvision (which
facenet-pytorch imports for its NMS, and with it torch._dynamo: about a CPU-second per process)
out of every scoring process; the cascade itself is ``eadbench.faces.cascade``. The layers, their
order and their arithmetic are facenet-pytorch's, so the outputs are the same bit for bit
(``tests/test_cascade.py`` compares them with facenet-pytorch's own modules).

facenet-pytorch's ``detect_face`` (the GPU path, and the reference in tests) calls
``torchvision.ops.batched_nms``. Where torchvision's compiled ops cannot load (a CPU torch beside
the registry's CUDA torchvision, see ``eadbench._torchvision``), that operator is served by
eadbench's plain-torch NMS and torchvision's op guard is lifted (``patch_torchvision_ops``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from eadbench.weights import WeightStore

NAME = "mtcnn-facenet-pytorch-2.6.0"
WEIGHTS = ("mtcnn-pnet", "mtcnn-rnet", "mtcnn-onet")
#: facenet-pytorch's MTCNN defaults (its constructor's arguments, as eadbench always used them)
MIN_FACE, THRESHOLDS, FACTOR = 20, (0.6, 0.7, 0.7), 0.709


def patch_torchvision_ops() -> None:
    """Lift torchvision's compiled-op guard when eadbench's fallback NMS serves the op."""
    import eadbench._torchvision as tvpatch

    tvpatch.ensure_torchvision_importable()
    if tvpatch.PATCHED:
        import torchvision.ops.boxes as tv_boxes

        tv_boxes._assert_has_ops = lambda: None


class PNet(nn.Module):
    """Proposal network: a fully convolutional 12x12 face/no-face classifier with box offsets."""

    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 10, kernel_size=3), nn.PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(10, 16, kernel_size=3), nn.PReLU(16)
        self.conv3, self.prelu3 = nn.Conv2d(16, 32, kernel_size=3), nn.PReLU(32)
        self.conv4_1, self.softmax4_1 = nn.Conv2d(32, 2, kernel_size=1), nn.Softmax(dim=1)
        self.conv4_2 = nn.Conv2d(32, 4, kernel_size=1)

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return self.conv4_2(x), self.softmax4_1(self.conv4_1(x))


class RNet(nn.Module):
    """Refinement network on 24x24 candidate windows."""

    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 28, kernel_size=3), nn.PReLU(28)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(28, 48, kernel_size=3), nn.PReLU(48)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = nn.Conv2d(48, 64, kernel_size=2), nn.PReLU(64)
        self.dense4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
        self.dense5_1, self.softmax5_1 = nn.Linear(128, 2), nn.Softmax(dim=1)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu3(self.conv3(x))
        x = x.permute(0, 3, 2, 1).contiguous()  # the Caffe original's flattening order
        x = self.prelu4(self.dense4(x.view(x.shape[0], -1)))
        return self.dense5_2(x), self.softmax5_1(self.dense5_1(x))


class ONet(nn.Module):
    """Output network on 48x48 windows: score, box offsets and five landmarks."""

    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 32, kernel_size=3), nn.PReLU(32)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(32, 64, kernel_size=3), nn.PReLU(64)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = nn.Conv2d(64, 64, kernel_size=3), nn.PReLU(64)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4, self.prelu4 = nn.Conv2d(64, 128, kernel_size=2), nn.PReLU(128)
        self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.dense6_1, self.softmax6_1 = nn.Linear(256, 2), nn.Softmax(dim=1)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu4(self.conv4(x))
        x = x.permute(0, 3, 2, 1).contiguous()
        x = self.prelu5(self.dense5(x.view(x.shape[0], -1)))
        return self.dense6_2(x), self.dense6_3(x), self.softmax6_1(self.dense6_1(x))


@dataclass
class MTCNN:
    """The three networks and facenet-pytorch's MTCNN settings, as the cascade reads them."""

    pnet: PNet
    rnet: RNet
    onet: ONet
    device: torch.device
    min_face_size: float = MIN_FACE
    thresholds: tuple[float, float, float] = THRESHOLDS
    factor: float = FACTOR

    def eval(self) -> "MTCNN":
        for net in (self.pnet, self.rnet, self.onet):
            net.eval()
        return self


def _build(store: WeightStore) -> MTCNN:
    device = torch.device(store.device)
    nets = []
    for cls, name in zip((PNet, RNet, ONet), WEIGHTS):
        net = cls()
        net.load_state_dict(torch.load(store.path(name), map_location="cpu", weights_only=True))
        nets.append(net.eval().to(device))
    return MTCNN(*nets, device=device)


def mtcnn(store: WeightStore | None = None) -> MTCNN:
    """facenet-pytorch's MTCNN networks (keep every face, raw boxes), once per process and device;
    their three weight files are located and hash-checked first (a clear message when missing)."""
    store = store or WeightStore()
    return store.network(NAME, WEIGHTS, _build, to_device=False)
