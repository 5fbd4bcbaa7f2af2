"""The 3-D inpainting U-Net: 2-D convolutions per frame, temporal convolutions, and attention
blocks (self-attention: STDA or full; cross-attention to the conditioning; TFRM).

Input channels (LatentSync's layout): noisy sample, lower-face mask, masked frame, reference
identity frame, concatenated. Output: predicted noise (or v).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from eadnet.attention import STDA, CrossAttention, FullSpatioTemporalAttention
from eadnet.config import EADNetConfig
from eadnet.tfrm import TFRM


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    half = dim // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def _per_frame(fn, x: torch.Tensor) -> torch.Tensor:
    b, c, t, h, w = x.shape
    y = fn(x.transpose(1, 2).reshape(b * t, c, h, w))
    return y.view(b, t, *y.shape[1:]).transpose(1, 2)


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, temb: int, groups: int):
        super().__init__()
        self.n1, self.c1 = nn.GroupNorm(min(groups, cin), cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.t = nn.Linear(temb, cout)
        self.n2, self.c2 = nn.GroupNorm(min(groups, cout), cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.temporal = nn.Conv1d(cout, cout, 3, padding=1)
        nn.init.zeros_(self.temporal.weight)
        nn.init.zeros_(self.temporal.bias)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        h = _per_frame(lambda z: self.c1(F.silu(self.n1(z))), x)
        h = h + self.t(F.silu(temb))[:, :, None, None, None]
        h = _per_frame(lambda z: self.c2(F.silu(self.n2(z))), h)
        b, c, t, hh, ww = h.shape
        seq = h.permute(0, 3, 4, 1, 2).reshape(b * hh * ww, c, t)
        h = h + self.temporal(seq).view(b, hh, ww, c, t).permute(0, 3, 4, 1, 2)
        return _per_frame(self.skip, x) + h


class AttentionBlock(nn.Module):
    def __init__(self, dim: int, cfg: EADNetConfig):
        super().__init__()
        self.n1, self.n2, self.n3 = (nn.GroupNorm(min(cfg.groups, dim), dim) for _ in range(3))
        self.self_attn = STDA(dim, cfg.heads) if cfg.stda else FullSpatioTemporalAttention(dim, cfg.heads)
        self.cross = CrossAttention(dim, cfg.cond_dim, cfg.heads)
        self.tfrm = TFRM(dim, cfg.tfrm_rounds, cfg.tfrm_window) if cfg.tfrm else None
        self.ff = nn.Sequential(nn.Conv3d(dim, 4 * dim, 1), nn.GELU(), nn.Conv3d(4 * dim, dim, 1))

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(_per_frame(self.n1, x))
        x = x + self.cross(_per_frame(self.n2, x), cond)
        if self.tfrm is not None:
            x = x + self.tfrm(x)
        return x + self.ff(_per_frame(self.n3, x))


class UNet3D(nn.Module):
    def __init__(self, cfg: EADNetConfig):
        super().__init__()
        ch = list(cfg.channels)
        temb = 4 * ch[0]
        self.temb_dim = ch[0]
        self.time_mlp = nn.Sequential(nn.Linear(ch[0], temb), nn.SiLU(), nn.Linear(temb, temb))
        # the conditioner's last tokens are the emotion text's and the intensity's (when present)
        self.n_emotion = int(cfg.text) + int(cfg.intensity) if cfg.emotion_temb else 0
        self.emotion_temb = (nn.Sequential(nn.Linear(self.n_emotion * cfg.cond_dim, temb), nn.SiLU(),
                                           nn.Linear(temb, temb)) if self.n_emotion else None)
        self.inp = nn.Conv2d(cfg.in_channels, ch[0], 3, padding=1)
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        skips = []
        cin = ch[0]
        for i, c in enumerate(ch):
            self.down.append(nn.ModuleList([ResBlock(cin, c, temb, cfg.groups)]
                                           + ([AttentionBlock(c, cfg)] if cfg.attention_levels[i] else [])))
            skips.append(c)
            cin = c
            self.downsample.append(nn.Conv2d(c, c, 3, stride=2, padding=1) if i < len(ch) - 1 else nn.Identity())
        self.mid = nn.ModuleList([ResBlock(cin, cin, temb, cfg.groups), AttentionBlock(cin, cfg),
                                  ResBlock(cin, cin, temb, cfg.groups)])
        self.up = nn.ModuleList()
        for i, c in reversed(list(enumerate(ch))):
            self.up.append(nn.ModuleList([ResBlock(cin + skips[i], c, temb, cfg.groups)]
                                         + ([AttentionBlock(c, cfg)] if cfg.attention_levels[i] else [])))
            cin = c
        self.out_norm = nn.GroupNorm(min(cfg.groups, ch[0]), ch[0])
        self.out = nn.Conv2d(ch[0], cfg.out_channels, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def _run(self, blocks, x, temb, cond):
        for blk in blocks:
            x = blk(x, temb) if isinstance(blk, ResBlock) else blk(x, cond)
        return x

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """x (B, in_channels, T, H, W), t (B,), cond (B, T, L, D) -> (B, out_channels, T, H, W)."""
        temb = self.time_mlp(timestep_embedding(t, self.temb_dim))
        if self.emotion_temb is not None:  # text and intensity are the same in every frame: frame 0's
            temb = temb + self.emotion_temb(cond[:, 0, -self.n_emotion:].flatten(1).to(temb.dtype))
        h = _per_frame(self.inp, x)
        skips = []
        for blocks, down in zip(self.down, self.downsample):
            h = self._run(blocks, h, temb, cond)
            skips.append(h)
            h = _per_frame(down, h)
        h = self._run(self.mid, h, temb, cond)
        for blocks in self.up:
            s = skips.pop()
            if h.shape[-2:] != s.shape[-2:]:
                h = _per_frame(lambda z: F.interpolate(z, size=s.shape[-2:], mode="nearest"), h)
            h = self._run(blocks, torch.cat([h, s], 1), temb, cond)
        return _per_frame(lambda z: self.out(F.silu(self.out_norm(z))), h)
