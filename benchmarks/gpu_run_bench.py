"""The real-clip run benchmark on a CUDA machine, as one prepared script (the device tool's way:
install, run, write JSON under $OUT).

    python benchmarks/gpu_run_bench.py --install --out "$OUT"      # on the GPU machine
    .venv/bin/python benchmarks/gpu_run_bench.py --device cpu       # the same on this machine

It installs the pinned environment when asked (``--install``: the machine's own CUDA torch is
kept; eadbench and its pure-Python dependencies are added with ``--no-deps`` where a package
would pull another torch), builds the HDTF-layout tree of symlinks to ``../shared/data/real``
(as ``benchmarks/run_bench.py --real``), runs ``eadbench run`` cold and warm with ``--device``,
and writes frames per second end to end, the per-stage seconds and the summary values (to
compare with a CPU run) to ``OUT/gpu_run_bench.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run_bench import REAL, frames_scored, real_tree, summary_values  # noqa: E402


def install(repo: Path) -> None:
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    reqs = [ln.split("#")[0].strip() for ln in (repo / "requirements.txt").read_text().splitlines()]
    reqs = [r for r in reqs if r and not r.startswith(("torch==", "torchvision=="))]
    subprocess.run(pip + reqs, check=True)
    subprocess.run(pip + ["--no-deps", "-r", str(repo / "requirements-nodeps.txt")], check=True)
    subprocess.run(pip + ["--no-deps", "--no-build-isolation", "-e", str(repo)], check=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--install", action="store_true")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--real-dir", type=Path, default=REAL)
    ap.add_argument("--metrics", default="ssim,psnr,fvd,emotion,lmd")
    ap.add_argument("--tracking", default=None)
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", ".")))
    a = ap.parse_args()
    repo = HERE.parent
    if a.install:
        install(repo)
    work = Path(tempfile.mkdtemp(prefix="eadbench-gpu-"))
    root, split = real_tree(work, a.real_dir)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "EADBENCH_CACHE": str(work / "cache")}
    args = [sys.executable, "-m", "eadbench.cli.main", "run", "--dataset", "hdtf", "--root", str(root),
            "--split-file", str(split), "--methods", "ground_truth,static", "--metrics", a.metrics, "--quiet",
            "--out", str(work / "run"), "--device", a.device] + (["--tracking", a.tracking] if a.tracking else [])
    result = {"device": a.device}
    for phase in ("cold", "warm"):
        t = time.perf_counter()
        r = subprocess.run(args, env=env, capture_output=True, text=True)
        result[f"{phase}_seconds"] = time.perf_counter() - t
        if r.returncode != 0:
            result["error"] = r.stderr[-4000:]
            break
        if phase == "cold":
            result["stage_seconds"] = json.loads((work / "run" / "timings.json").read_text())
    if "error" not in result:
        n = frames_scored(work / "run")
        result.update(frames_scored=n, fps_cold=n / result["cold_seconds"], values=summary_values(work / "run"))
        try:
            import torch

            result["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
            result["torch"] = torch.__version__
        except ImportError:
            pass
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "gpu_run_bench.json").write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "values"}, indent=2))


if __name__ == "__main__":
    main()
