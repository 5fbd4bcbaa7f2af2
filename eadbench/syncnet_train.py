"""Train a sync expert (SyncNet) on prepared clips: contrastive in-sync vs shifted windows.

``--arch small`` (the CPU variant, documented here) sees the lower half of the ``syncnet``
face crop, grey, resized to 48x96, 5 frames; the audio stream takes the same 13x20 MFCC block
as SyncNet v2. Embeddings are L2-normalised so LSE's Euclidean distances stay comparable
across training runs. ``--arch v2`` trains the full SyncNet v2 (GPU scale). Training pairs a
5-frame window with the audio block of the same time (label 1) or one shifted by 3-12 frames
(label 0); the loss is binary cross-entropy on a learned affine map of the cosine similarity.

The output file is a state dict with ``arch`` and ``meta`` entries; the LSE metric loads it
through ``--syncnet PATH`` (``load_expert``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from eadbench import media
from eadbench.atomic import atomic_path
from eadbench.errors import EadbenchError
from eadbench.nets.mfcc import mfcc
from eadbench.nets.syncnet import SyncNetSmall


@dataclass
class ClipData:
    lips: torch.Tensor  # (1, T, H, W)
    mfcc: torch.Tensor  # (13, n)
    n_win: int


def load_clip(crops_path: Path, audio_path: Path, net: nn.Module) -> ClipData | None:
    crops = media.read_frames(crops_path)
    audio = media.read_audio(audio_path)
    length = min(len(crops), len(audio) // media.SAMPLES_PER_FRAME)
    if length < 6:
        return None
    pcm = np.clip(np.round(audio.astype(np.float64) * 32768), -32768, 32767)
    cc = torch.from_numpy(mfcc(pcm).T.astype(np.float32))
    lips = net.prepare_lips(crops[:length])
    return ClipData(lips, cc, length - 5)


def _batch(clips: list[ClipData], rng: np.random.Generator, size: int, min_shift: int = 3, max_shift: int = 12):
    lips, auds, labels = [], [], []
    for _ in range(size):
        c = clips[rng.integers(len(clips))]
        t = int(rng.integers(c.n_win))
        y = int(rng.integers(2))
        a = t
        if not y:
            choices = [t + s for s in range(-max_shift, max_shift + 1) if abs(s) >= min_shift and 0 <= t + s < c.n_win]
            if not choices:
                y = 1
            else:
                a = int(rng.choice(choices))
        lips.append(c.lips[:, t:t + 5])
        auds.append(c.mfcc[None, :, 4 * a:4 * a + 20])
        labels.append(float(y))
    return torch.stack(lips), torch.stack(auds), torch.tensor(labels)


def _atomic_save(obj, path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def train(data: str | Path, out: str | Path, steps: int = 1500, batch: int = 64, lr: float = 2e-3,
          seed: int = 0, resume: bool = True, holdout: float = 0.25, progress: bool = True,
          echo=print, crop: str = "syncnet", curve: list | None = None) -> dict:
    """Train the small expert on prepared clips (``eadbench prepare`` output). Returns held-out stats.

    ``curve``: a list that receives ``[step, loss]`` every 20 steps (the training curve a shipped
    expert's recipe records; reading the loss changes nothing the training computes).

    ``crop``: the crop protocol it learns from: ``syncnet`` for LSE, ``face256`` for an expert
    that supervises EAD-Net, whose sync loss sees the lower half of face256 crops."""
    from tqdm import tqdm

    from eadbench.prepare import iter_prepared

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = SyncNetSmall()
    prepared = [p for p in iter_prepared(data) if crop in p.crops]
    if len(prepared) < 2:
        raise EadbenchError(f"{data}: need at least 2 prepared clips with {crop} crops (run `eadbench prepare`)")
    speakers = sorted({p.meta["clip"]["speaker"] for p in prepared})
    n_hold = max(1, int(round(len(speakers) * holdout))) if holdout > 0 and len(speakers) > 1 else 0
    held_spk = set(speakers[-n_hold:]) if n_hold else set()
    train_clips, held_clips = [], []
    for p in prepared:
        c = load_clip(p.crops[crop], p.audio, net)
        if c is not None:
            (held_clips if p.meta["clip"]["speaker"] in held_spk else train_clips).append(c)
    if not held_clips and holdout > 0:  # one speaker only: hold out the last clip
        held_clips = train_clips[-1:]
        train_clips = train_clips[:-1] or held_clips
    elif not held_clips:  # holdout 0: every clip trains, and the stats below are training-set figures
        held_clips = train_clips
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    ckpt = Path(str(out) + ".ckpt")
    start = 0
    if resume and ckpt.exists():
        state = torch.load(ckpt, map_location="cpu", weights_only=True)
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        start = int(state["step"])
        rng = np.random.default_rng([seed, start])
    net.train()
    bar = tqdm(range(start, steps), desc="syncnet train", disable=not progress, initial=start, total=steps)
    for step in bar:
        lips, auds, y = _batch(train_clips, rng, batch)
        v = net.lip_windows(lips)[:, 0]
        a = net.forward_aud(auds)
        loss = F.binary_cross_entropy_with_logits(net.logit(v, a), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 20 == 0:
            bar.set_postfix(loss=f"{loss.item():.3f}")
            if curve is not None:
                curve.append([step, round(loss.item(), 6)])
        if (step + 1) % 250 == 0 or step + 1 == steps:
            _atomic_save({"model": net.state_dict(), "opt": opt.state_dict(), "step": step + 1}, ckpt)
            rng = np.random.default_rng([seed, step + 1])
    net.eval()
    stats = evaluate(net, held_clips, seed)
    state = net.state_dict()
    state["arch"] = "small"
    held_out = held_clips is not train_clips  # else the stats are training-set figures: 0 held out
    state["meta"] = json.dumps({"steps": steps, "seed": seed, "train_clips": len(train_clips),
                                "heldout_clips": len(held_clips) if held_out else 0, **stats})
    _atomic_save(state, Path(out))
    which = "held-out" if held_out else "training-set (nothing held out)"
    echo(f"{which} sync accuracy {stats['sync_accuracy']:.3f}, offset accuracy {stats['offset_accuracy']:.3f} "
         f"({len(held_clips)} clips)")
    return stats


def evaluate(net: SyncNetSmall, clips: list[ClipData], seed: int = 0) -> dict:
    """Pair accuracy on held-out windows, and the fraction of clips whose LSE offset is 0."""
    from eadbench.nets.syncnet import lse_from_features

    rng = np.random.default_rng(seed + 1)
    with torch.inference_mode():
        lips, auds, y = _batch(clips, rng, 512)
        pred = (net.logit(net.lip_windows(lips)[:, 0], net.forward_aud(auds)) > 0).float()
        acc = float((pred == y).float().mean())
        ok = 0
        for c in clips:
            lip = net.lip_sequence(c.lips[:, : c.n_win + 4])
            blocks = torch.stack([c.mfcc[:, 4 * i:4 * i + 20] for i in range(c.n_win)])[:, None]
            ok += int(lse_from_features(lip, net.forward_aud(blocks))["av_offset"] == 0)
    return {"sync_accuracy": acc, "offset_accuracy": ok / max(1, len(clips))}
