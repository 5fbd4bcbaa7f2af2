"""Per-frame cost of the image metrics (SSIM, PSNR) on real frames, in wall and CPU milliseconds
per frame pair (user and system separately) and page faults, min and median of several repeats.

    .venv/bin/python benchmarks/frame_metrics_bench.py                  # this checkout
    PYTHONPATH=/path/to/old/tree .venv/bin/python benchmarks/frame_metrics_bench.py   # another version

Pairs are frame i+4 against frame i of ``retalking_3.mp4`` (590x590) from ``../shared/data/real``,
scored in chunks of 32 as a run feeds them. CPU time is the process's (every thread), so it is
meaningful on a busy machine where wall time is not.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from pathlib import Path

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video", type=Path, default=REAL / "retalking_3.mp4")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--chunk", type=int, default=32)
    a = ap.parse_args()
    import eadbench
    import eadbench.streams  # noqa: F401  (its malloc policy, as in a run)
    from eadbench import media
    from eadbench.metrics.psnr import psnr_frames
    from eadbench.metrics.ssim import ssim_frames

    frames = media.read_frames(a.video, max_frames=a.chunk + 4)
    fake, real = frames[4:], frames[:a.chunk]
    out = {"eadbench": str(Path(eadbench.__file__).parent), "size": list(frames.shape[1:3])}
    for name, fn in (("ssim", ssim_frames), ("psnr", psnr_frames)):
        value = float(fn(fake, real).mean())  # warm-up (thread pool, buffers)
        walls, users, systems, faults = [], [], [], []
        for _ in range(a.repeat):
            r0, t = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
            fn(fake, real)
            wall, r1 = time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF)
            walls.append(wall * 1e3 / a.chunk)
            users.append((r1.ru_utime - r0.ru_utime) * 1e3 / a.chunk)
            systems.append((r1.ru_stime - r0.ru_stime) * 1e3 / a.chunk)
            faults.append((r1.ru_minflt - r0.ru_minflt) / a.chunk)
        out[name] = {"value": value, "wall_ms_min": min(walls), "wall_ms_median": statistics.median(walls),
                     "cpu_ms_min": min(u + s for u, s in zip(users, systems)),
                     "cpu_ms_median": statistics.median(u + s for u, s in zip(users, systems)),
                     "system_ms_median": statistics.median(systems), "page_faults_median": statistics.median(faults)}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
