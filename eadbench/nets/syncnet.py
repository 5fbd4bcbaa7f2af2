"""Sync experts: SyncNet v2 and eadbench's small CPU expert, with their loaders.

SyncNet v2 (Chung & Zisserman; the network of syncnet_python and of Wav2Lip's LSE scripts).
Lip stream: 5 consecutive face crops, BGR, raw 0-255 floats, (B, 3, 5, 224, 224) -> 1024-d.
Audio stream: a 13x20 MFCC block (0.2 s), (B, 1, 13, 20) -> 1024-d. Module names match the
official state dict (netcnnaud, netfcaud, netcnnlip, netfclip).

``SyncNetSmall`` is the expert `eadbench syncnet train` learns (grey lower half of the crop,
48x96, 5 frames; the same 13x20 MFCC block; L2-normalised embeddings) with the same interface
(``prepare_lips`` / ``lip_sequence`` / ``forward_aud``), for LSE on your data and for EAD-Net's
sync loss. ``load_expert`` reads either kind from a file.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from eadbench.errors import WeightsIntegrityError
from eadbench.weights import WeightStore


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
        return torch.from_numpy(np.ascontiguousarray(crops[:, :, :, ::-1])).float().permute(3, 0, 1, 2)

    def forward_lip(self, x: torch.Tensor) -> torch.Tensor:
        return self.netfclip(self.netcnnlip(x).flatten(1))

    #: windows per lip-stream segment (segments overlap by 4 frames)
    segment = 24

    def lip_mid(self, seg: torch.Tensor) -> torch.Tensor:
        """(3, n + 4, 224, 224) prepared frames -> (n, 512) convolutional features of its n windows."""
        return self.netcnnlip(seg[None])[0, :, :, 0, 0].T

    def lip_head(self, mid: torch.Tensor) -> torch.Tensor:
        return self.netfclip(mid)

    def lip_sequence(self, frames: torch.Tensor, chunk: int | None = None) -> torch.Tensor:
        """Lip features of every 5-frame window of a (3, T, 224, 224) sequence at once.

        Only the first convolution looks across time (kernel 5, no temporal padding), so one
        pass over the sequence gives the T-4 window outputs; segments overlap by 4 frames.
        """
        chunk = chunk or self.segment
        t = frames.shape[1]
        return self.lip_head(torch.cat([self.lip_mid(frames[:, s:min(t, s + chunk + 4)])
                                        for s in range(0, t - 4, chunk)]))


SMALL_H, SMALL_W = 48, 96


class SyncNetSmall(nn.Module):
    """Small CPU sync expert. Same interface as SyncNetV2 (prepare_lips / lip_sequence / forward_aud)."""

    arch = "small"

    def __init__(self, embed: int = 128):
        super().__init__()

        def c3(cin, cout, k, s, p):
            return [nn.Conv3d(cin, cout, k, s, p), nn.BatchNorm3d(cout), nn.ReLU(inplace=True)]

        self.lip = nn.Sequential(
            *c3(1, 32, (5, 5, 5), (1, 2, 2), (0, 2, 2)),      # the only layer that looks across time
            *c3(32, 64, (1, 3, 3), (1, 2, 2), (0, 1, 1)),
            *c3(64, 128, (1, 3, 3), (1, 2, 2), (0, 1, 1)),
            *c3(128, 192, (1, 3, 3), (1, 2, 2), (0, 1, 1)),
        )
        self.lip_fc = nn.Linear(192, embed)
        self.aud = nn.Sequential(
            nn.Conv2d(1, 32, 3, 1, 1), nn.BatchNorm2d(32), nn.ReLU(inplace=True),
            nn.Conv2d(32, 64, 3, (1, 2), 1), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
            nn.Conv2d(64, 128, 3, 2, 1), nn.BatchNorm2d(128), nn.ReLU(inplace=True),
            nn.Conv2d(128, 192, 3, 2, 1), nn.BatchNorm2d(192), nn.ReLU(inplace=True),
        )
        self.aud_fc = nn.Linear(192, embed)
        self.scale = nn.Parameter(torch.tensor(5.0))
        self.bias = nn.Parameter(torch.tensor(-2.0))

    @staticmethod
    def prepare_lips(crops: np.ndarray) -> torch.Tensor:
        """(T, 224, 224, 3) RGB syncnet crops -> (1, T, 48, 96) grey lower halves in [-1, 1]."""
        h = crops.shape[1]
        out = [cv2.resize(cv2.cvtColor(np.ascontiguousarray(f[h // 2:]), cv2.COLOR_RGB2GRAY), (SMALL_W, SMALL_H),
                          interpolation=cv2.INTER_AREA) for f in crops]
        return torch.from_numpy(np.stack(out)).float()[None] / 127.5 - 1.0

    segment = 64

    def lip_windows(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, 5+n-1, 48, 96) -> (B, n, D) normalised embeddings of each 5-frame window."""
        y = self.lip(x).mean(dim=(3, 4)).transpose(1, 2)  # (B, n, 192)
        return F.normalize(self.lip_fc(y), dim=-1)

    def lip_mid(self, seg: torch.Tensor) -> torch.Tensor:
        return self.lip_windows(seg[None])[0]

    def lip_head(self, mid: torch.Tensor) -> torch.Tensor:
        return mid

    def lip_sequence(self, prepared: torch.Tensor, chunk: int | None = None) -> torch.Tensor:
        chunk = chunk or self.segment
        t = prepared.shape[1]
        return torch.cat([self.lip_mid(prepared[:, s:min(t, s + chunk + 4)]) for s in range(0, t - 4, chunk)])

    def forward_aud(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.aud_fc(self.aud(x).mean(dim=(2, 3))), dim=-1)

    def logit(self, v: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        return self.scale * (v * a).sum(-1) + self.bias


VSHIFT = 15  # offsets -15..+15 frames, as syncnet_python


def lse_from_features(lip: torch.Tensor, aud: torch.Tensor, vshift: int = VSHIFT) -> dict[str, float]:
    win = 2 * vshift + 1
    audp = F.pad(aud, (0, 0, vshift, vshift))
    idx = torch.arange(len(lip))[:, None] + torch.arange(win)[None, :]
    dists = torch.linalg.vector_norm(lip[:, None, :] - audp[idx] + 1e-6, dim=2)  # pairwise_distance, eps 1e-6
    mdist = dists.mean(0)
    minval, minidx = torch.min(mdist, 0)
    return {"lse_c": float(torch.median(mdist) - minval), "lse_d": float(minval),
            "av_offset": float(vshift - int(minidx))}


#: LSE refuses a trained expert whose recorded offset accuracy is below this (chance: 1 in 31 offsets)
MIN_OFFSET_ACCURACY = 0.25


def load_expert(path: str | Path) -> nn.Module:
    """A sync expert written by the trainer (or a plain SyncNet v2 state dict)."""
    return _read_expert(path)[0]


def _read_expert(path: str | Path) -> tuple[nn.Module, dict]:
    """(network, the trainer's record of it: steps, clips, sync and offset accuracy; {} if none).

    A ``.safetensors`` file is a built-in expert (``eadbench.builtin``: fp16, cast to fp32 here,
    its arch and record in the file's metadata); anything else a torch state dict."""
    if str(path).endswith(".safetensors"):
        from eadbench.builtin_file import read

        state, info = read(path)
        if info.get("kind") != "sync-expert":
            raise WeightsIntegrityError(f"{path}: a built-in {info.get('kind')}, not a sync expert")
        state = {**state, "arch": info.get("arch", "v2"), "meta": info.get("meta")}
    else:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unpickling/zip error means a bad file
            raise WeightsIntegrityError(f"{path}: cannot read sync expert weights ({type(exc).__name__})") from None
    arch = state.pop("arch", "v2") if isinstance(state, dict) else "v2"
    meta = state.pop("meta", None)
    try:
        record = json.loads(meta) if isinstance(meta, str) else {}
    except ValueError:
        record = {}
    net = SyncNetSmall() if arch == "small" else SyncNetV2()
    try:
        net.load_state_dict(state, strict=arch == "small")
    except RuntimeError as exc:
        raise WeightsIntegrityError(f"{path}: weights do not fit the {arch} sync expert "
                                    f"({str(exc).splitlines()[0][:150]})") from None
    return net.eval(), record


def check_expert_learnt(path: str | Path, record: dict) -> None:
    """LSE from an expert that never learnt to find the offset is noise: refuse it, with its record."""
    acc = record.get("offset_accuracy")
    # judged on its training clips only (trained with --holdout 0): a low held-out figure can mean the
    # expert does not generalise to new speakers, not that it learnt nothing
    if isinstance(acc, (int, float)) and acc < MIN_OFFSET_ACCURACY and not record.get("heldout_clips"):
        raise WeightsIntegrityError(
            f"sync expert {path} did not learn: offset accuracy {acc:.3f} on its training clips after "
            f"{record.get('steps')} steps "
            f"(chance 0.03; LSE needs at least {MIN_OFFSET_ACCURACY}), so LSE from it would be noise; train it "
            "longer or on more clips (`eadbench syncnet train --steps N`)")


def _syncnet_v2(store: WeightStore) -> SyncNetV2:
    key = str(store.path("syncnet-v2"))
    state = store.state_dict("syncnet-v2")
    net = SyncNetV2()
    own = net.state_dict()
    missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
    if missing:
        raise WeightsIntegrityError(f"{key}: not a SyncNet v2 state dict (missing {missing[0]} "
                                    f"and {len(missing) - 1} more)")
    for k, v in state.items():
        if k in own:
            if own[k].shape != v.shape:
                raise WeightsIntegrityError(f"{key}: {k} has shape {tuple(v.shape)}, expected {tuple(own[k].shape)}")
            own[k].copy_(v)
    return net


_EXPERTS: dict[tuple[str, str], nn.Module] = {}


def load_syncnet(store: WeightStore | None = None, path: str | None = None) -> nn.Module:
    """SyncNet v2 from syncnet_v2.model (weight store), or the expert in ``path``; once per
    process and device."""
    store = store or WeightStore()
    if not path:
        return store.network("syncnet-v2", ("syncnet-v2",), _syncnet_v2)
    from eadbench.weights import file_sha256

    key = (file_sha256(path), store.device)
    if key not in _EXPERTS:
        net, record = _read_expert(path)
        check_expert_learnt(path, record)
        _EXPERTS[key] = net.to(store.device)
    return _EXPERTS[key]
