"""TFRM, the Temporal Frame graph Reasoning Module.

Each frame becomes a graph node (its features pooled over space). Edges: bidirectional links
between frames at most ``window`` apart (temporal proximity) plus learned edges from feature
similarity (scaled dot product, softmax). A few rounds of GCN-style message passing refine the
nodes; the result is added back to every position of its frame through a zero-initialised
gate, so training starts from the plain U-Net.
"""

from __future__ import annotations

import torch
import torch.nn as nn


class TFRM(nn.Module):
    def __init__(self, dim: int, rounds: int = 2, window: int = 2, hidden: int | None = None):
        super().__init__()
        hidden = hidden or dim
        self.window, self.rounds = window, rounds
        self.inp = nn.Linear(dim, hidden)
        self.q, self.k = nn.Linear(hidden, hidden, bias=False), nn.Linear(hidden, hidden, bias=False)
        self.msg = nn.ModuleList([nn.Linear(hidden, hidden) for _ in range(rounds)])
        self.norm = nn.LayerNorm(hidden)
        self.outp = nn.Linear(hidden, dim)
        self.gate = nn.Parameter(torch.zeros(1))

    def adjacency(self, nodes: torch.Tensor) -> torch.Tensor:
        """(B, T, D) -> (B, T, T) row-normalised: half temporal proximity, half similarity."""
        t = nodes.shape[1]
        idx = torch.arange(t, device=nodes.device)
        near = ((idx[:, None] - idx[None, :]).abs() <= self.window).float()
        near = near / near.sum(1, keepdim=True)
        sim = torch.softmax(self.q(nodes) @ self.k(nodes).transpose(1, 2) / nodes.shape[-1] ** 0.5, dim=-1)
        return 0.5 * near[None] + 0.5 * sim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, C, T, H, W) -> residual to add to x."""
        h = self.inp(x.mean(dim=(3, 4)).transpose(1, 2))  # (B, T, D)
        for layer in self.msg:
            a = self.adjacency(h)
            h = self.norm(h + torch.relu(layer(a @ h)))
        delta = self.outp(h).transpose(1, 2)[..., None, None]  # (B, C, T, 1, 1)
        return torch.tanh(self.gate) * delta.expand_as(x)
