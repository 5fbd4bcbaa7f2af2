"""Benchmark `eadbench run` on N synthetic clips: cold with 1 and 2 workers, then a warm re-run.

    .venv/bin/python benchmarks/run_bench.py --speakers 4 --clips 2

Prints wall times and the warm/cold ratio (target: warm at least 20x faster than cold).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(args: list[str], env: dict) -> float:
    t = time.perf_counter()
    subprocess.run(args, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--speakers", type=int, default=4)
    ap.add_argument("--clips", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--metrics", default="ssim,psnr,fvd,emotion")
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="eadbench-bench-"))
    env = {**os.environ, "EADBENCH_CACHE": str(work / "cache"), "HF_HUB_OFFLINE": "1"}
    exe = [sys.executable, "-m", "eadbench.cli.main"]
    data = work / "synth"
    t_data = timed(exe + ["synth", "--out", str(data), "--speakers", str(a.speakers), "--clips", str(a.clips),
                          "--seconds", str(a.seconds), "-q"], env)
    base = exe + ["run", "--dataset", "synth", "--root", str(data), "--split", "all" if False else "test",
                  "--metrics", a.metrics, "--quiet"]
    rows = []
    for workers in (1, 2):
        out = work / f"run-{workers}"
        cold = timed(base + ["--out", str(out), "--workers", str(workers)], env)
        rows.append((f"cold, {workers} worker(s)", cold))
    warm = timed(base + ["--out", str(work / "run-1")], env)
    rows.append(("warm re-run (1 worker)", warm))
    n = len(list((work / "run-1" / "videos" / "static").glob("*.mp4")))
    print(f"synthetic data: {a.speakers * a.clips} clips written in {t_data:.1f} s; {n} test clips x 2 methods; "
          f"metrics {a.metrics}")
    for name, t in rows:
        print(f"{name:<26} {t:7.1f} s")
    print(f"warm / cold speed-up: {rows[0][1] / warm:.1f}x;  2 workers vs 1: {rows[0][1] / rows[1][1]:.2f}x")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
