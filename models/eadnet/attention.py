"""Self-attention over video tokens: STDA (the paper's) and its plain counterparts.

Tokens come as (B, C, T, H, W). Full spatio-temporal attention compares every token with all
T*H*W others (quadratic). STDA, Spatio-Temporal Directional Attention, restricts each token
to three strips through it: its row (W tokens), its column (H tokens) and its temporal line
(T tokens); the three results are combined by learned gates. The cost per token is
O(W + H + T) instead of O(THW): near-linear in the number of tokens.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class _QKV(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.out = nn.Linear(dim, dim)

    def attend(self, seq: torch.Tensor) -> torch.Tensor:
        """(N, L, C) -> (N, L, C) multi-head attention within each sequence (no output projection)."""
        n, length, c = seq.shape
        q, k, v = self.qkv(seq).view(n, length, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        o = F.scaled_dot_product_attention(q, k, v)
        return o.transpose(1, 2).reshape(n, length, c)


class FullSpatioTemporalAttention(_QKV):
    """Every token attends to every token of the clip (the quadratic baseline, ``stda: false``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = x.shape
        seq = x.permute(0, 2, 3, 4, 1).reshape(b, t * h * w, c)
        return self.out(self.attend(seq)).view(b, t, h, w, c).permute(0, 4, 1, 2, 3)


class SpatialAttention(_QKV):
    """Attention within each frame only (per-frame baseline for the benchmark)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = x.shape
        seq = x.permute(0, 2, 3, 4, 1).reshape(b * t, h * w, c)
        return self.out(self.attend(seq)).view(b, t, h, w, c).permute(0, 4, 1, 2, 3)


class STDA(_QKV):
    """Spatio-Temporal Directional Attention: row, column and time strips, gated sum."""

    def __init__(self, dim: int, heads: int):
        super().__init__(dim, heads)
        self.gates = nn.Parameter(torch.zeros(3))  # softmax -> equal mix at init

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = x.shape
        tok = x.permute(0, 2, 3, 4, 1)  # (B, T, H, W, C)
        rows = self.attend(tok.reshape(b * t * h, w, c)).view(b, t, h, w, c)
        cols = self.attend(tok.transpose(2, 3).reshape(b * t * w, h, c)).view(b, t, w, h, c).transpose(2, 3)
        time = self.attend(tok.permute(0, 2, 3, 1, 4).reshape(b * h * w, t, c)).view(b, h, w, t, c)
        time = time.permute(0, 3, 1, 2, 4)
        g = torch.softmax(self.gates, 0)
        mixed = g[0] * rows + g[1] * cols + g[2] * time
        return self.out(mixed).permute(0, 4, 1, 2, 3)


class CrossAttention(nn.Module):
    """Every position of frame t attends to the conditioning tokens of frame t."""

    def __init__(self, dim: int, cond_dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim, bias=False)
        self.kv = nn.Linear(cond_dim, 2 * dim, bias=False)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """x (B, C, T, H, W); cond (B, T, L, D)."""
        b, c, t, h, w = x.shape
        q = self.q(x.permute(0, 2, 3, 4, 1).reshape(b * t, h * w, c))
        kv = self.kv(cond.reshape(b * t, cond.shape[2], cond.shape[3]))
        k, v = kv.chunk(2, dim=-1)
        split = lambda z: z.view(z.shape[0], z.shape[1], self.heads, c // self.heads).transpose(1, 2)  # noqa: E731
        o = F.scaled_dot_product_attention(split(q), split(k), split(v)).transpose(1, 2).reshape(b * t, h * w, c)
        return self.out(o).view(b, t, h, w, c).permute(0, 4, 1, 2, 3)
