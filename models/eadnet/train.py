"""Training: one CPU process or many GPUs/machines under torchrun (DistributedDataParallel).

Every step's randomness (timesteps, noise, condition dropout, reference frames) comes from a
generator seeded by (seed, step, rank), and the data order from (seed, epoch): so a run
resumed from a checkpoint continues exactly as if it had never stopped. Rank 0 logs
(``metrics.csv``) and writes checkpoints atomically (model, EMA, optimiser, scheduler, step,
RNG state, config). Mixed precision (bf16) on GPU; gradient accumulation; EMA weights.
"""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from eadbench.atomic import atomic_path
from eadbench.devices import auto_device
from eadbench.labels import EMOTIONS
from eadnet.codec import build_codec, latent_mask
from eadnet.conditioning import TextEncoder
from eadnet.config import EADNetConfig
from eadnet.data import ClipTensors, WindowIndex, load_prepared, partners, twins
from eadnet.expression import ExpressionLoss, load_classifier
from eadnet.losses import LPIPSLoss, SyncLoss, TREPALoss, noise_loss
from eadnet.model import EADNet, lower_face_mask

FORMAT = "eadnet-checkpoint/1"


def make_batch(clips: list[ClipTensors], idx: list[tuple[int, int]], cfg: EADNetConfig, gen: torch.Generator):
    t = cfg.frames
    others = None
    if cfg.ref_other_clip > 0:
        others = twins(clips) if cfg.ref_clip == "twin" else partners([(c.speaker, c.emotion) for c in clips],
                                                                       cfg.ref_clip)
    x0, ref, aud, cc, texts, inten, emos = [], [], [], [], [], [], []
    half = cfg.size // 2  # the upper edge of lower_face_mask
    for ci, s in idx:
        c = rc = clips[ci]
        # drawn only when enabled, so runs without it keep their random stream (and baselines)
        if others is not None and others[ci] and float(torch.rand(1, generator=gen)) < cfg.ref_other_clip:
            rc = clips[others[ci][int(torch.randint(0, len(others[ci]), (1,), generator=gen))]]
        r = int(torch.randint(0, rc.frames.shape[1] - t + 1, (1,), generator=gen))
        target = c.frames[:, s:s + t]
        if cfg.ref_clip == "twin" and rc is not c:
            # the same speech, mouth and head motion in another expression: its frames at the same
            # time are the visible upper face (as `--source neutral` presents a clip), a window
            # elsewhere in it the identity reference; the lower face to draw is this clip's
            target = torch.cat([rc.frames[:, s:s + t, :half], target[:, :, half:]], dim=2)
        elif cfg.ref_as_source and rc is not c:
            # as `--source neutral` at test time: the reference clip's frames at the same time are the
            # identity reference and the visible upper face; the target's lower face is the clip's own
            r = min(s, rc.frames.shape[1] - t)
            target = torch.cat([rc.frames[:, r:r + t, :half], target[:, :, half:]], dim=2)
        x0.append(target)
        ref.append(rc.frames[:, r:r + t])
        aud.append(c.audio_tokens[s:s + t])
        block = c.mfcc[:, 4 * s:4 * s + 20]
        cc.append(F.pad(block, (0, 20 - block.shape[1]))[None])
        texts.append(c.text)
        inten.append(c.intensity)
        emos.append(EMOTIONS.index(c.emotion) if c.emotion in EMOTIONS else -1)
    return (torch.stack(x0), torch.stack(ref), torch.stack(aud), torch.stack(cc), texts,
            torch.tensor(inten, dtype=torch.float32), torch.tensor(emos))


class Trainer:
    def __init__(self, cfg: EADNetConfig, device: str | None = None, sync_expert=None, trepa_encoder=None):
        self.cfg = cfg
        self.rank, self.world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
        self.device = torch.device(device or auto_device())
        if self.world > 1:
            import torch.distributed as dist

            if not dist.is_initialized():
                dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
            if self.device.type == "cuda":
                self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
                torch.cuda.set_device(self.device)
        torch.manual_seed(cfg.seed)
        self.model = EADNet(cfg).to(self.device)
        self.ema = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self.net = self.model
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            self.net = DDP(self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr, weight_decay=1e-2)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda s: min(1.0, (s + 1) / 50))
        self.text = TextEncoder(cfg.text_encoder) if cfg.text else None
        self.codec = build_codec(cfg).to(self.device)
        self.sync = None
        if cfg.w_sync > 0:
            if sync_expert is None:
                if not cfg.syncnet_path:
                    from eadbench.errors import WeightsMissingError

                    raise WeightsMissingError("EAD-Net sync loss needs a sync expert: train one with `eadbench "
                                              "syncnet train` and set syncnet_path (or set w_sync: 0)")
                from eadbench.nets.syncnet import load_expert

                sync_expert = load_expert(cfg.syncnet_path)
            self.sync = SyncLoss(sync_expert).to(self.device)
        self.lpips = LPIPSLoss(cfg.lpips_pretrained).to(self.device) if cfg.w_lpips > 0 else None
        self.trepa = TREPALoss(trepa_encoder).to(self.device) if cfg.w_trepa > 0 else None
        self.expr = None
        if cfg.w_expr > 0:
            if not cfg.expr_path:
                from eadbench.errors import WeightsMissingError

                raise WeightsMissingError("EAD-Net expression loss needs a classifier: set expr_path (or w_expr: 0)")
            self.expr = ExpressionLoss(load_classifier(cfg.expr_path)).to(self.device)
        self.step = 0

    # -- state ---------------------------------------------------------------------------
    def state(self) -> dict:
        return {"format": FORMAT, "config": self.cfg.to_dict(), "model": self.model.state_dict(),
                "ema": self.ema, "optimizer": self.opt.state_dict(), "scheduler": self.sched.state_dict(),
                "step": self.step, "torch_rng": torch.get_rng_state()}

    def save(self, path: Path) -> None:
        with atomic_path(path) as tmp:
            torch.save(self.state(), tmp)

    def load(self, path: Path) -> None:
        st = torch.load(path, map_location=self.device, weights_only=True)
        self.model.load_state_dict(st["model"])
        self.ema = st["ema"]
        self.opt.load_state_dict(st["optimizer"])
        self.sched.load_state_dict(st["scheduler"])
        self.step = int(st["step"])
        torch.set_rng_state(st["torch_rng"].cpu())

    # -- one step ------------------------------------------------------------------------
    def losses(self, batch, gen: torch.Generator) -> dict[str, torch.Tensor]:
        cfg, dev = self.cfg, self.device
        x0, ref, aud, cc, texts, inten, emos = batch
        x0, ref, aud, cc, inten, emos = (z.to(dev) for z in (x0, ref, aud, cc, inten, emos))
        b = x0.shape[0]
        mask_px = lower_face_mask(cfg.frames, cfg.size, dev)
        mask = latent_mask(mask_px, self.codec.factor)
        with torch.no_grad():
            z0, ref = self.codec.encode(x0), self.codec.encode(ref)
            masked = self.codec.encode(x0 * (1 - mask_px))
        t = torch.randint(0, cfg.train_timesteps, (b,), generator=gen).to(dev)
        noise = torch.randn(z0.shape, generator=gen).to(dev)
        drop_a = (torch.rand(b, generator=gen) < cfg.cond_dropout).to(dev)
        drop_t = (torch.rand(b, generator=gen) < cfg.cond_dropout).to(dev)
        sched = self.model.schedule
        noisy = sched.add_noise(z0, noise, t)
        text_emb = self.text(texts).to(dev) if self.text is not None else None
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            cond = self.model.conditioner(aud, text_emb, inten if cfg.intensity else None, drop_a, drop_t)
            pred = self.net(noisy, t, mask, masked, ref, cond)
        out = {"noise": noise_loss(pred, sched.target(z0, noise, t))}
        if self.sync or self.lpips or self.trepa or self.expr:
            z0_hat, _ = sched.x0_and_eps(noisy, pred.float(), t)
            x0_hat = self.codec.decode(z0_hat)
            x0_hat = mask_px * x0_hat.clamp(-1, 1) + (1 - mask_px) * x0
            if self.sync is not None:
                out["sync"] = self.sync(x0_hat, cc)
            if self.lpips is not None:
                out["lpips"] = self.lpips(x0_hat, x0)
            if self.trepa is not None:
                out["trepa"] = self.trepa(x0_hat, x0)
            if self.expr is not None:
                known = (emos >= 0).float()
                out["expr"] = self.expr(x0_hat, emos.clamp(min=0), known)
        weights = {"noise": cfg.w_noise, "sync": cfg.w_sync, "lpips": cfg.w_lpips, "trepa": cfg.w_trepa,
                   "expr": cfg.w_expr}
        out["total"] = sum(weights[k] * v for k, v in out.items())
        return out

    def train_step(self, clips: list[ClipTensors], index: WindowIndex) -> dict[str, float]:
        self.opt.zero_grad(set_to_none=True)
        logs: dict[str, float] = {}
        for micro in range(self.cfg.grad_accum):
            gen = torch.Generator().manual_seed(hash((self.cfg.seed, self.step, self.rank, micro)) & 0x7FFFFFFF)
            idx = index.batch(self.step * self.cfg.grad_accum + micro, self.cfg.batch_size, self.rank, self.world)
            losses = self.losses(make_batch(clips, idx, self.cfg, gen), gen)
            (losses["total"] / self.cfg.grad_accum).backward()
            for k, v in losses.items():
                logs[k] = logs.get(k, 0.0) + float(v.detach()) / self.cfg.grad_accum
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.opt.step()
        self.sched.step()
        with torch.no_grad():
            # warm-up (as diffusers' EMAModel): with a fixed 0.999 a short run's EMA would still be
            # mostly the random initial weights, and sampling from it gives noise
            d = min(self.cfg.ema_decay, (1 + self.step) / (10 + self.step))
            for k, v in self.model.state_dict().items():
                if v.dtype.is_floating_point:
                    self.ema[k].mul_(d).add_(v.detach(), alpha=1 - d)
                else:
                    self.ema[k].copy_(v)
        self.step += 1
        return logs


def train(cfg: EADNetConfig, data: str | Path, out: str | Path, steps: int, resume: bool = True,
          device: str | None = None, progress: bool = True, sync_expert=None, trepa_encoder=None,
          stop_after: int | None = None) -> Trainer:
    """Train for ``steps`` optimiser steps (``stop_after``: leave early, as a kill would, for tests)."""
    from tqdm import tqdm

    out = Path(out)
    tr = Trainer(cfg, device, sync_expert, trepa_encoder)
    ckpt = out / "checkpoint.pt"
    if resume and ckpt.exists():
        tr.load(ckpt)
    clips = load_prepared(data, cfg)
    if cfg.filter_min_similarity is not None:
        from eadnet.filtering import filter_clips

        n = len(clips)
        clips = filter_clips(clips, cfg.filter_min_similarity, report=out / "filtering.csv" if tr.rank == 0 else None)
        if tr.rank == 0 and progress:
            print(f"text/video filtering (>= {cfg.filter_min_similarity}): {len(clips)} of {n} clips kept "
                  f"(see {out / 'filtering.csv'})")
    index = WindowIndex(clips, cfg.frames, cfg.seed)
    tr.model.train()
    log_path = out / "metrics.csv"
    bar = tqdm(total=steps, initial=tr.step, desc="eadnet train", disable=not progress or tr.rank != 0)
    t0 = time.perf_counter()
    while tr.step < steps:
        logs = tr.train_step(clips, index)
        bar.update(1)
        bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items()})
        if tr.rank == 0:
            out.mkdir(parents=True, exist_ok=True)
            new = not log_path.exists()
            with open(log_path, "a", newline="") as fh:
                w = csv.writer(fh)
                if new:
                    w.writerow(["step", "seconds"] + sorted(logs))
                w.writerow([tr.step, round(time.perf_counter() - t0, 3)] + [round(logs[k], 6) for k in sorted(logs)])
            if tr.step % cfg.checkpoint_every == 0 or tr.step == steps:
                tr.save(ckpt)
        if stop_after is not None and tr.step >= stop_after:
            break
    bar.close()
    if tr.world > 1:
        import torch.distributed as dist

        dist.barrier()
    return tr
