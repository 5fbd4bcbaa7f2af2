"""STDA vs full spatio-temporal vs spatial-only self-attention: forward+backward time and peak
memory at growing token grids, with the fitted growth exponent (time ~ tokens^k).

    .venv/bin/python benchmarks/attention_bench.py [--dim 64] [--device cuda]

Each measurement runs in its own process so peak memory (ru_maxrss on CPU, max allocated on
CUDA) belongs to that configuration alone. Also: the tiny EAD-Net's training steps/s and
inference frames/s on this machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import numpy as np

CHILD = r"""
import json, resource, sys, time, torch
from eadnet.attention import STDA, FullSpatioTemporalAttention, SpatialAttention
kind, t, h, dim, device = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
cls = {"stda": STDA, "full": FullSpatioTemporalAttention, "spatial": SpatialAttention}[kind]
torch.manual_seed(0)
m = cls(dim, 4).to(device)
x = torch.randn(1, dim, t, h, h, device=device, requires_grad=True)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
def step():
    y = m(x); y.square().mean().backward()
    if device == "cuda": torch.cuda.synchronize()
step()
if device == "cuda": torch.cuda.reset_peak_memory_stats()
n = 3
t0 = time.perf_counter()
for _ in range(n): step()
dt = (time.perf_counter() - t0) / n
mem = (torch.cuda.max_memory_allocated() / 2**20 if device == "cuda"
       else (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024)
print(json.dumps({"seconds": dt, "peak_mb": mem}))
"""


def measure(kind, t, h, dim, device, timeout=600):
    r = subprocess.run([sys.executable, "-c", CHILD, kind, str(t), str(h), str(dim), device], capture_output=True,
                       text=True, timeout=timeout)
    if r.returncode != 0:
        return None
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--grids", default="16x16,16x32,16x48,16x64")
    ap.add_argument("--max-full-tokens", type=int, default=16 * 32 * 32,
                    help="skip full attention above this many tokens (its T*HW x T*HW matrix)")
    a = ap.parse_args()
    grids = [tuple(int(v) for v in g.split("x")) for g in a.grids.split(",")]
    print(f"self-attention forward+backward, dim {a.dim}, 4 heads, batch 1, device {a.device}")
    print(f"{'tokens':>8} {'grid':>10} | {'STDA s':>8} {'MB':>7} | {'full s':>8} {'MB':>7} | "
          f"{'spatial s':>9} {'MB':>7}")
    res = {k: [] for k in ("stda", "full", "spatial")}
    for t, h in grids:
        n = t * h * h
        row = {}
        for kind in ("stda", "full", "spatial"):
            if kind == "full" and n > a.max_full_tokens:
                row[kind] = None
                continue
            row[kind] = measure(kind, t, h, a.dim, a.device)
            if row[kind]:
                res[kind].append((n, row[kind]["seconds"]))
        cell = lambda r: f"{r['seconds']:8.3f} {r['peak_mb']:7.0f}" if r else f"{'skipped':>8} {'':>7}"  # noqa: E731
        print(f"{n:>8} {t}x{h}x{h:<5} | {cell(row['stda'])} | {cell(row['full'])} | {cell(row['spatial']).rjust(17)}")
    for kind, pts in res.items():
        if len(pts) >= 2:
            k = np.polyfit(np.log([p[0] for p in pts]), np.log([p[1] for p in pts]), 1)[0]
            print(f"growth exponent ({kind}): time ~ tokens^{k:.2f}")
    tiny_speed(a.device)


def tiny_speed(device):
    import time

    import torch
    from eadnet.config import EADNetConfig
    from eadnet.model import EADNet, lower_face_mask

    cfg = EADNetConfig.preset_config("tiny")
    m = EADNet(cfg).to(device)
    opt = torch.optim.AdamW(m.parameters(), 1e-4)
    b, t, s = cfg.batch_size, cfg.frames, cfg.size
    x = torch.randn(b, 3, t, s, s, device=device)
    mask = lower_face_mask(t, s, device)
    cond = lambda: m.conditioner(torch.randn(b, t, 10, cfg.n_mels, device=device), torch.randn(b, 384, device=device),  # noqa: E731
                                 torch.rand(b, device=device))
    for i in range(4):
        if i == 1:
            t0 = time.perf_counter()
        loss = m(x, torch.randint(0, 1000, (b,), device=device), mask, x, x, cond()).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    if device == "cuda":
        torch.cuda.synchronize()
    steps = 3 / (time.perf_counter() - t0)
    m.eval()
    with torch.no_grad():
        t0 = time.perf_counter()
        for _ in range(3):
            m(x[:1], torch.tensor([500], device=device), mask, x[:1], x[:1], cond()[:1])
        if device == "cuda":
            torch.cuda.synchronize()
        per_pass = (time.perf_counter() - t0) / 3
    fps = t / (per_pass * cfg.infer_steps * (2 if cfg.guidance != 1 else 1))
    print(f"tiny EAD-Net ({sum(p.numel() for p in m.parameters()) / 1e6:.2f}M params, {s}x{s}, {t} frames): "
          f"{steps:.2f} training steps/s (batch {b}); inference {fps:.2f} frames/s "
          f"({cfg.infer_steps} DDIM steps, guidance {cfg.guidance})")


if __name__ == "__main__":
    main()
