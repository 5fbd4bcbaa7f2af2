"""Peak resident memory of `eadbench score` on a long video next to a short one (issue 24 item 4):
memory must not grow with a video's length.

    .venv/bin/python benchmarks/memory_bench.py                      # 5 min vs 30 s, the five metrics
    .venv/bin/python benchmarks/memory_bench.py --long 60 --short 10 --metrics ssim,psnr,fvd

Two real 512x512 clips of ``../shared/data/real`` (the generated side and the real side) are
looped into temporary mp4 files of each length (deleted afterwards; never written into the
repository), then each pair is scored by a fresh ``eadbench score`` process whose peak RSS is
read from ``wait4``. Prints both peaks, their ratio and the targets (under 3 GB, within 20%),
and writes them as JSON with ``--json``. The face metrics (lmd, emotion) track every frame, so
the 5-minute run takes a long time on a small machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from itertools import cycle, islice
from pathlib import Path

HERE = Path(__file__).resolve().parent
REAL = HERE.parent.parent / "shared" / "data" / "real"
TARGET_GB, TARGET_RATIO = 3.0, 1.2


def looped(src: Path, seconds: float, dest: Path) -> Path:
    """``src`` repeated until ``seconds`` at 25 fps, as a new mp4 (frames decoded once, kept in memory)."""
    from eadbench import media

    frames = list(media.iter_frames(src))
    return media.write_video(dest, islice(cycle(frames), int(round(seconds * media.VIDEO_FPS))))


def peak_rss(args: list[str], env: dict) -> dict:
    """Run ``args``; its peak resident set (GB), CPU and wall seconds, and exit status."""
    t = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = proc.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {"peak_rss_gb": round(usage.ru_maxrss / 2 ** 20, 3),
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1), "system_seconds": round(usage.ru_stime, 1),
            "wall_seconds": round(time.perf_counter() - t, 1), "exit": proc.returncode, "output_tail": out[-1500:]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fake", type=Path, default=REAL / "WDA_KatieHill_000.mp4")
    ap.add_argument("--real", type=Path, default=REAL / "WDA_AlexandriaOcasioCortez_000.mp4")
    ap.add_argument("--long", type=float, default=300.0, help="seconds of the long video")
    ap.add_argument("--short", type=float, default=30.0, help="seconds of the short video")
    ap.add_argument("--metrics", default="ssim,psnr,fvd,lmd,emotion")
    ap.add_argument("--tracking", default=None)
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="eadbench-membench-"))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "EADBENCH_CACHE": str(work / "cache")}
    results: dict = {"metrics": a.metrics, "fake": a.fake.name, "real": a.real.name}
    try:
        for name, seconds in (("short", a.short), ("long", a.long)):
            fake = looped(a.fake, seconds, work / f"fake-{name}.mp4")
            real = looped(a.real, seconds, work / f"real-{name}.mp4")
            args = [sys.executable, "-m", "eadbench.cli.main", "score", "--metric", a.metrics, "--fake", str(fake),
                    "--real", str(real), "--emotion", "neutral", "--profile"]
            results[name] = {"seconds": seconds, **peak_rss(args + (["--tracking", a.tracking] if a.tracking else []),
                                                            env)}
            r = results[name]
            print(f"{name:>5} {seconds:6.0f} s: peak RSS {r['peak_rss_gb']:.3f} GB, {r['cpu_seconds']} CPU-s "
                  f"({r['system_seconds']} system), {r['wall_seconds']} s wall, exit {r['exit']}", flush=True)
    finally:
        shutil.rmtree(work)
    ratio = results["long"]["peak_rss_gb"] / results["short"]["peak_rss_gb"]
    results.update(ratio=round(ratio, 3), under_3gb=results["long"]["peak_rss_gb"] < TARGET_GB,
                   within_20pct=ratio <= TARGET_RATIO)
    print(f"long / short peak RSS: {ratio:.3f} (targets: under {TARGET_GB:g} GB: {results['under_3gb']}, "
          f"within 20%: {results['within_20pct']})")
    if a.json:
        a.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
