"""Test-only reference: syncnet_python's evaluation procedure written plainly, loop by loop,
independently of eadbench's production code (its own network definition, the
python_speech_features package for MFCC, per-window forward passes, calc_pdist's loop)."""

from __future__ import annotations

import math

import numpy as np
import python_speech_features
import torch
import torch.nn as nn


class ReferenceS(nn.Module):
    def __init__(self):
        super().__init__()
        B2, B3, R = nn.BatchNorm2d, nn.BatchNorm3d, lambda: nn.ReLU(inplace=True)
        self.netcnnaud = nn.Sequential(
            nn.Conv2d(1, 64, 3, 1, 1), B2(64), R(), nn.MaxPool2d(1, 1),
            nn.Conv2d(64, 192, 3, 1, 1), B2(192), R(), nn.MaxPool2d(3, (1, 2)),
            nn.Conv2d(192, 384, 3, padding=1), B2(384), R(),
            nn.Conv2d(384, 256, 3, padding=1), B2(256), R(),
            nn.Conv2d(256, 256, 3, padding=1), B2(256), R(), nn.MaxPool2d(3, 2),
            nn.Conv2d(256, 512, (5, 4)), B2(512), nn.ReLU())
        self.netfcaud = nn.Sequential(nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, 1024))
        self.netfclip = nn.Sequential(nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, 1024))
        self.netcnnlip = nn.Sequential(
            nn.Conv3d(3, 96, (5, 7, 7), (1, 2, 2)), B3(96), R(), nn.MaxPool3d((1, 3, 3), (1, 2, 2)),
            nn.Conv3d(96, 256, (1, 5, 5), (1, 2, 2), (0, 1, 1)), B3(256), R(),
            nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)),
            nn.Conv3d(256, 256, (1, 3, 3), padding=(0, 1, 1)), B3(256), R(),
            nn.Conv3d(256, 256, (1, 3, 3), padding=(0, 1, 1)), B3(256), R(),
            nn.Conv3d(256, 256, (1, 3, 3), padding=(0, 1, 1)), B3(256), R(), nn.MaxPool3d((1, 3, 3), (1, 2, 2)),
            nn.Conv3d(256, 512, (1, 6, 6)), B3(512), R())


def evaluate(state_dict, crops_rgb: np.ndarray, audio_int16: np.ndarray, vshift: int = 15, batch_size: int = 20):
    net = ReferenceS()
    own = net.state_dict()
    for name, param in state_dict.items():
        own[name].copy_(param)
    net.eval()
    images = [f[:, :, ::-1] for f in crops_rgb]  # cv2.imread gives BGR
    im = np.stack(images, axis=3)
    im = np.expand_dims(im, axis=0)
    im = np.transpose(im, (0, 3, 4, 1, 2))
    imtv = torch.from_numpy(im.astype(float)).float()
    mfcc = zip(*python_speech_features.mfcc(audio_int16, 16000))
    mfcc = np.stack([np.array(i) for i in mfcc])
    cc = np.expand_dims(np.expand_dims(mfcc, axis=0), axis=0)
    cct = torch.from_numpy(cc.astype(float)).float()
    min_length = min(len(images), math.floor(len(audio_int16) / 640))
    lastframe = min_length - 5
    im_feat, cc_feat = [], []
    with torch.no_grad():
        for i in range(0, lastframe, batch_size):
            im_batch = [imtv[:, :, v:v + 5, :, :] for v in range(i, min(lastframe, i + batch_size))]
            mid = net.netcnnlip(torch.cat(im_batch, 0))
            im_feat.append(net.netfclip(mid.view(mid.size(0), -1)))
            cc_batch = [cct[:, :, :, v * 4:v * 4 + 20] for v in range(i, min(lastframe, i + batch_size))]
            mid = net.netcnnaud(torch.cat(cc_batch, 0))
            cc_feat.append(net.netfcaud(mid.view(mid.size(0), -1)))
    im_feat, cc_feat = torch.cat(im_feat, 0), torch.cat(cc_feat, 0)
    win_size = vshift * 2 + 1
    feat2p = torch.nn.functional.pad(cc_feat, (0, 0, vshift, vshift))
    dists = []
    for i in range(len(im_feat)):
        dists.append(torch.nn.functional.pairwise_distance(im_feat[[i], :].repeat(win_size, 1),
                                                           feat2p[i:i + win_size, :]))
    mdist = torch.mean(torch.stack(dists, 1), 1)
    minval, minidx = torch.min(mdist, 0)
    return {"lse_c": float(torch.median(mdist) - minval), "lse_d": float(minval), "av_offset": float(vshift - minidx)}
