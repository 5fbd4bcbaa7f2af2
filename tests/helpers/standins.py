"""Stand-in weight files of the official shapes, for the networks whose real files cannot be
downloaded here (AlexNet for LPIPS, the FID Inception, SyncNet v2, FaceNet), placed in one
folder that eadbench's weight store reads (``--weights-dir`` / ``$EADBENCH_WEIGHTS``).

Tests only. Stand-in files cannot carry the published hashes, so ``relax_hashes`` lifts the
hash check for exactly these entries, in this process (a test's monkeypatch restores it).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

STANDIN = ("alexnet", "inception-fid", "syncnet-v2", "facenet-vggface2")


def relax_hashes(monkeypatch=None, names=STANDIN) -> None:
    from eadbench import weights

    for name in names:
        spec = weights.WEIGHTS.get(name)
        relaxed = dataclasses.replace(spec, sha256=None, sha256_prefix=None, size=None, min_size=0)
        if monkeypatch is not None:
            monkeypatch.setitem(weights.WEIGHTS._items, name, relaxed)
        else:
            weights.WEIGHTS._items[name] = relaxed


def fid_inception_state(seed: int = 1) -> dict:
    """pytorch-fid's FID Inception with random weights of the published shapes."""
    import pytorch_fid.inception as pi

    torch.manual_seed(seed)
    inc = pi._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    inc.Mixed_5b = pi.FIDInceptionA(192, pool_features=32)
    inc.Mixed_5c = pi.FIDInceptionA(256, pool_features=64)
    inc.Mixed_5d = pi.FIDInceptionA(288, pool_features=64)
    inc.Mixed_6b = pi.FIDInceptionC(768, channels_7x7=128)
    inc.Mixed_6c = pi.FIDInceptionC(768, channels_7x7=160)
    inc.Mixed_6d = pi.FIDInceptionC(768, channels_7x7=160)
    inc.Mixed_6e = pi.FIDInceptionC(768, channels_7x7=192)
    inc.Mixed_7b = pi.FIDInceptionE_1(1280)
    inc.Mixed_7c = pi.FIDInceptionE_2(2048)
    return inc.state_dict()


def write_standins(folder: Path) -> Path:
    """Every stand-in file in ``folder`` (written once; later calls reuse them)."""
    import torchvision
    from facenet_pytorch.models.inception_resnet_v1 import InceptionResnetV1

    from eadbench.nets.syncnet import SyncNetV2

    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "alexnet-owt-7be5be79.pth").exists():
        torch.manual_seed(0)
        torch.save(torchvision.models.alexnet().state_dict(), folder / "alexnet-owt-7be5be79.pth")
    if not (folder / "pt_inception-2015-12-05-6726825d.pth").exists():
        torch.save(fid_inception_state(), folder / "pt_inception-2015-12-05-6726825d.pth")
    if not (folder / "syncnet_v2.model").exists():
        torch.manual_seed(2)
        net = SyncNetV2()
        with torch.no_grad():  # non-trivial BatchNorm statistics, as a trained file would have
            for m in net.modules():
                if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)):
                    m.running_mean.uniform_(-0.1, 0.1)
                    m.running_var.uniform_(0.5, 2.0)
        torch.save(net.state_dict(), folder / "syncnet_v2.model")
    if not (folder / "20180402-114759-vggface2.pt").exists():
        torch.manual_seed(3)
        torch.save(InceptionResnetV1(pretrained=None).state_dict(), folder / "20180402-114759-vggface2.pt")
    return folder
