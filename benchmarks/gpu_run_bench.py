"""The real-clip run on a GPU next to the same run on the CPU, as one prepared script (the device
tool's way: one call, JSON under $OUT): frames/s of every stage on each device, and every summary
value of the GPU run equal to the CPU run's within tolerance.

    python benchmarks/gpu_run_bench.py --install --out "$OUT"          # on the lent GPU machine
    .venv/bin/python benchmarks/gpu_run_bench.py --devices cpu --clips WDA_KatieHill_000   # dry run here

It installs the pinned environment when asked (``--install``: the machine's own CUDA torch is
kept; eadbench and its pure-Python dependencies are added with ``--no-deps`` where a package
would pull another torch), builds the HDTF-layout tree of symlinks to ``../shared/data/real``
(as ``benchmarks/run_bench.py --real``), runs ``eadbench run`` (ground_truth + static) once per
device with an empty cache each (so face tracking is timed on each device), and writes
``OUT/gpu_run_bench.json``: per device the wall and CPU seconds, the stage table of
``timings.json`` (seconds, CPU seconds, frames, frames/s), the summary values; and per value the
GPU-CPU difference and whether it is within tolerance (``--rtol``/``--atol``; FVD compares
features through a matrix square root, so it gets ``--fvd-atol``).
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

#: the default clips: both 512x512 interviews and the 1080x1920 HEVC portrait (the costliest to track)
CLIPS = ["WDA_KatieHill_000", "WDA_AlexandriaOcasioCortez_000", "latentsync_demo1_video"]


def install(repo: Path) -> None:
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    reqs = [ln.split("#")[0].strip() for ln in (repo / "requirements.txt").read_text().splitlines()]
    reqs = [r for r in reqs if r and not r.startswith(("torch==", "torchvision=="))]
    subprocess.run(pip + reqs, check=True)
    subprocess.run(pip + ["--no-deps", "-r", str(repo / "requirements-nodeps.txt")], check=True)
    subprocess.run(pip + ["--no-deps", "--no-build-isolation", "-e", str(repo)], check=True)


def run_on(device: str, root: Path, split: Path, work: Path, a) -> dict:
    """One cold ``eadbench run`` on ``device``: seconds, CPU seconds, stage table, values."""
    out = work / f"run-{device.replace(':', '')}"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "EADBENCH_CACHE": str(work / f"cache-{device.replace(':', '')}")}
    args = [sys.executable, "-m", "eadbench.cli.main", "run", "--dataset", "hdtf", "--root", str(root),
            "--split-file", str(split), "--methods", "ground_truth,static", "--metrics", a.metrics, "--quiet",
            "--out", str(out), "--device", device] + (["--tracking", a.tracking] if a.tracking else [])
    t = time.perf_counter()
    try:
        r = subprocess.run(args, env=env, capture_output=True, text=True, timeout=a.timeout)
    except subprocess.TimeoutExpired:
        return {"wall_seconds": round(time.perf_counter() - t, 2), "exit": None, "error": f"over {a.timeout} s"}
    res: dict = {"wall_seconds": round(time.perf_counter() - t, 2), "exit": r.returncode}
    if r.returncode != 0:
        return {**res, "error": r.stderr[-4000:]}
    timings = json.loads((out / "timings.json").read_text())
    n = frames_scored(out)
    return {**res, "frames_scored": n, "fps_end_to_end": round(n / res["wall_seconds"], 2),
            "cpu_seconds": timings.get("cpu_seconds"), "stages": timings.get("stages", timings.get("seconds")),
            "values": summary_values(out)}


def compare(cpu: dict[str, float], other: dict[str, float], a) -> dict[str, dict]:
    """Per summary value: both numbers, the difference, and whether it is within tolerance."""
    rows = {}
    for key in sorted(set(cpu) | set(other)):
        x, y = cpu.get(key), other.get(key)
        if x is None or y is None:
            rows[key] = {"cpu": x, "gpu": y, "ok": False, "why": "missing on one device"}
            continue
        atol = a.fvd_atol if "/fvd/" in key else a.atol
        rows[key] = {"cpu": x, "gpu": y, "diff": y - x, "ok": abs(y - x) <= atol + a.rtol * abs(x)}
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--install", action="store_true")
    ap.add_argument("--devices", default="cuda,cpu", help="comma-separated; cpu alone is the dry run")
    ap.add_argument("--clips", nargs="*", default=CLIPS, help="real clip names (stems); 'all' for every one")
    ap.add_argument("--real-dir", type=Path, default=REAL)
    ap.add_argument("--metrics", default="ssim,psnr,fvd,emotion,lmd")
    ap.add_argument("--tracking", default=None)
    ap.add_argument("--rtol", type=float, default=1e-3)
    ap.add_argument("--atol", type=float, default=1e-4)
    ap.add_argument("--fvd-atol", type=float, default=1.0)
    ap.add_argument("--timeout", type=float, default=270.0, help="seconds per device run (then recorded as over)")
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", ".")))
    a = ap.parse_args()
    repo = HERE.parent
    if a.install:
        install(repo)
    work = Path(tempfile.mkdtemp(prefix="eadbench-gpu-"))
    root, split = real_tree(work, a.real_dir, None if a.clips == ["all"] else a.clips)
    result: dict = {"clips": a.clips, "metrics": a.metrics, "tracking": a.tracking or "default", "runs": {}}
    try:
        import torch

        result.update(torch=torch.__version__, gpu=torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
                      cpu_threads=torch.get_num_threads())
    except ImportError:
        pass
    a.out.mkdir(parents=True, exist_ok=True)
    for device in a.devices.split(","):
        result["runs"][device] = run_on(device, root, split, work, a)
        r = result["runs"][device]
        print(f"{device}: exit {r['exit']}, {r['wall_seconds']} s wall, {r.get('cpu_seconds')} CPU-s, "
              f"{r.get('fps_end_to_end')} frames/s end to end", flush=True)
        for stage, row in (r.get("stages") or {}).items():
            if isinstance(row, dict):
                print(f"  {stage:<24} {row['seconds']:9.2f} s {row['cpu_seconds']:9.2f} CPU-s  {row['fps']} frames/s")
        (a.out / "gpu_run_bench.json").write_text(json.dumps(result, indent=2))  # partial results survive a timeout
    runs = result["runs"]
    others = [d for d in runs if d != "cpu" and "values" in runs[d]]
    if "values" in runs.get("cpu", {}):
        for d in others:
            rows = compare(runs["cpu"]["values"], runs[d]["values"], a)
            result[f"{d}_vs_cpu"] = {"all_within_tolerance": all(r["ok"] for r in rows.values()), "values": rows}
            bad = {k: r for k, r in rows.items() if not r["ok"]}
            print(f"{d} vs cpu: {len(rows) - len(bad)}/{len(rows)} values within tolerance"
                  + "".join(f"\n  {k}: cpu {r['cpu']} {d} {r['gpu']}" for k, r in bad.items()))
    (a.out / "gpu_run_bench.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
