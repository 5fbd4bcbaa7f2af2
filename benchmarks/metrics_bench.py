"""Benchmark the metrics on CPU with stand-in weights of the official shapes (the real files
cannot be downloaded here; speed does not depend on the values).

    .venv/bin/python benchmarks/metrics_bench.py --images 200

* FID: `eadbench score --metric fid` vs `python -m pytorch_fid` as whole processes, cold, and
  eadbench again warm (feature cache);
* frames per second of SSIM, PSNR, LSE (SyncNet v2 at 224x224) and FVD (I3D, 16x224x224 clips).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PATCH = ("import dataclasses, sys; from eadbench import weights as w; "
         "s = w.WEIGHTS.get('inception-fid'); "
         "w.WEIGHTS._items['inception-fid'] = dataclasses.replace(s, sha256=None, sha256_prefix=None); "
         "from eadbench.cli.main import main; sys.argv = ['eadbench'] + sys.argv[1:]; main()")


def run(args, env) -> float:
    t = time.perf_counter()
    subprocess.run(args, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--skip-reference", action="store_true", help="do not time pytorch-fid (large --images)")
    ap.add_argument("--fid-only", action="store_true", help="only the FID part")
    a = ap.parse_args()
    import skimage.data
    import torch
    from PIL import Image

    work = Path(tempfile.mkdtemp(prefix="eadbench-mbench-"))
    home = work / "torch"
    (home / "hub" / "checkpoints").mkdir(parents=True)
    env = {**os.environ, "TORCH_HOME": str(home), "EADBENCH_CACHE": str(work / "cache"), "HF_HUB_OFFLINE": "1"}
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.test_metrics_image import _fid_standin

    _fid_standin(home / "hub" / "checkpoints" / "pt_inception-2015-12-05-6726825d.pth")
    rng = np.random.default_rng(0)
    src = skimage.data.astronaut()
    for side in ("a", "b"):
        (work / side).mkdir()
        for i in range(a.images):
            y, x = rng.integers(0, 256, 2)
            Image.fromarray(src[y:y + 256, x:x + 256]).resize((128, 128)).save(work / side / f"{i:04d}.png")
    # pytorch-fid imports torchvision; on this machine that needs eadbench's CPU shim first
    ref = None if a.skip_reference else run(
        [sys.executable, "-c", "import eadbench, runpy, sys; sys.argv[0] = 'pytorch_fid'; "
         "runpy.run_module('pytorch_fid', run_name='__main__')", str(work / "a"), str(work / "b"),
         "--device", "cpu", "--num-workers", "0"], env)
    cmd = [sys.executable, "-c", PATCH, "score", "--metric", "fid", "--fake", str(work / "a"),
           "--real", str(work / "b")]
    cold = run(cmd, env)
    warm = run(cmd, env)
    print(f"FID on {a.images}+{a.images} images 128x128 (2 CPU cores):")
    if ref is not None:
        print(f"  pytorch-fid process   {ref:7.1f} s")
    print(f"  eadbench cold         {cold:7.1f} s" + (f"   ({ref / cold:.2f}x pytorch-fid)" if ref else ""))
    print(f"  eadbench warm         {warm:7.1f} s   ({cold / warm:.1f}x faster than cold)")
    if a.fid_only:
        return

    from eadbench.metrics import lse, psnr, ssim
    from eadbench.metrics.fvd import PROTOCOLS, i3d_features
    from eadbench.nets.i3d import kinetics_i3d
    from eadbench.nets.syncnet import SyncNetV2, lse_from_features

    frames = np.stack([np.asarray(Image.fromarray(src).resize((256, 256)))] * 75)
    other = np.roll(frames, 3, axis=2)
    for name, fn in (("SSIM 256x256", lambda: ssim.ssim(frames, other)),
                     ("PSNR 256x256", lambda: psnr.psnr(frames, other))):
        t = time.perf_counter()
        fn()
        print(f"  {name:<22} {75 / (time.perf_counter() - t):8.1f} frames/s")
    net = SyncNetV2().eval()
    crops = frames[:, 16:240, 16:240]
    audio = rng.normal(0, 0.1, 48000).astype(np.float32)
    t = time.perf_counter()
    lse_from_features(*lse.lse_features(net, crops, audio))
    print(f"  {'LSE (SyncNet v2 224)':<22} {75 / (time.perf_counter() - t):8.1f} frames/s")
    model = kinetics_i3d()
    clips = [frames[:16]] * 4
    t = time.perf_counter()
    with torch.inference_mode():
        i3d_features(clips, PROTOCOLS["stylegan-v"], model)
    print(f"  {'FVD I3D 16x224x224':<22} {64 / (time.perf_counter() - t):8.1f} frames/s")


if __name__ == "__main__":
    main()
