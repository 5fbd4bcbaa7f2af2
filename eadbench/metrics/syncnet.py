"""SyncNet v2 (Chung & Zisserman; the network of syncnet_python and of Wav2Lip's LSE scripts).

Lip stream: 5 consecutive face crops, BGR, raw 0-255 floats, (B, 3, 5, 224, 224) -> 1024-d.
Audio stream: a 13x20 MFCC block (0.2 s), (B, 1, 13, 20) -> 1024-d. Module names match the
official state dict (netcnnaud, netfcaud, netcnnlip, netfclip).
"""

from __future__ import annotations

import threading

import torch
import torch.nn as nn

from eadbench.errors import WeightsIntegrityError
from eadbench.weights import load_state_dict, verified


def _c2(cin, cout, k, s=(1, 1), p=(1, 1)):
    return [nn.Conv2d(cin, cout, k, s, p), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


def _c3(cin, cout, k, s=(1, 1, 1), p=(0, 0, 0)):
    return [nn.Conv3d(cin, cout, k, s, p), nn.BatchNorm3d(cout), nn.ReLU(inplace=True)]


def _fc(embed: int):
    return nn.Sequential(nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, embed))


class SyncNetV2(nn.Module):
    def __init__(self, embed: int = 1024):
        super().__init__()
        self.netcnnaud = nn.Sequential(
            *_c2(1, 64, (3, 3)), nn.MaxPool2d((1, 1), (1, 1)),
            *_c2(64, 192, (3, 3)), nn.MaxPool2d((3, 3), (1, 2)),
            *_c2(192, 384, (3, 3)), *_c2(384, 256, (3, 3)), *_c2(256, 256, (3, 3)), nn.MaxPool2d((3, 3), (2, 2)),
            *_c2(256, 512, (5, 4), p=(0, 0)),
        )
        self.netfcaud = _fc(embed)
        self.netfclip = _fc(embed)
        self.netcnnlip = nn.Sequential(
            *_c3(3, 96, (5, 7, 7), (1, 2, 2)), nn.MaxPool3d((1, 3, 3), (1, 2, 2)),
            *_c3(96, 256, (1, 5, 5), (1, 2, 2), (0, 1, 1)), nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)),
            *_c3(256, 256, (1, 3, 3), p=(0, 1, 1)), *_c3(256, 256, (1, 3, 3), p=(0, 1, 1)),
            *_c3(256, 256, (1, 3, 3), p=(0, 1, 1)), nn.MaxPool3d((1, 3, 3), (1, 2, 2)),
            *_c3(256, 512, (1, 6, 6)),
        )

    def forward_aud(self, x: torch.Tensor) -> torch.Tensor:
        return self.netfcaud(self.netcnnaud(x).flatten(1))

    @staticmethod
    def prepare_lips(crops) -> torch.Tensor:
        """(T, 224, 224, 3) RGB crops -> (3, T, 224, 224) BGR raw 0-255 floats, as cv2 reads them."""
        import numpy as np

        return torch.from_numpy(np.ascontiguousarray(crops[:, :, :, ::-1])).float().permute(3, 0, 1, 2)

    def forward_lip(self, x: torch.Tensor) -> torch.Tensor:
        return self.netfclip(self.netcnnlip(x).flatten(1))

    def lip_sequence(self, frames: torch.Tensor, chunk: int = 24) -> torch.Tensor:
        """Lip features of every 5-frame window of a (3, T, 224, 224) sequence at once.

        Only the first convolution looks across time (kernel 5, no temporal padding), so one
        pass over the sequence gives the T-4 window outputs; chunks overlap by 4 frames.
        """
        outs = []
        t = frames.shape[1]
        for s in range(0, t - 4, chunk):
            seg = frames[:, s:min(t, s + chunk + 4)][None]
            mid = self.netcnnlip(seg)  # (1, 512, n, 1, 1)
            outs.append(mid[0, :, :, 0, 0].T)
        return self.netfclip(torch.cat(outs))


_LOCK = threading.Lock()
_NETS: dict[str, SyncNetV2] = {}


def load_syncnet(weights_dir: str | None = None, path: str | None = None) -> torch.nn.Module:
    """SyncNet v2 from syncnet_v2.model (weight store) or an explicit state-dict file."""
    key = path or str(verified("syncnet-v2", weights_dir).path)
    with _LOCK:
        if key not in _NETS:
            if path:
                from eadbench.syncnet_train import load_expert

                _NETS[key] = load_expert(path)
                return _NETS[key]
            state = load_state_dict("syncnet-v2", weights_dir)
            net = SyncNetV2()
            own = net.state_dict()
            missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
            if missing:
                raise WeightsIntegrityError(f"{key}: not a SyncNet v2 state dict (missing {missing[0]} "
                                            f"and {len(missing) - 1} more)")
            for k, v in state.items():
                if k in own:
                    if own[k].shape != v.shape:
                        raise WeightsIntegrityError(f"{key}: {k} has shape {tuple(v.shape)}, "
                                                    f"expected {tuple(own[k].shape)}")
                    own[k].copy_(v)
            _NETS[key] = net.eval()
        return _NETS[key]
