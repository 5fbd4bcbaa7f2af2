"""Robustness of the motion and expression dynamics metrics on real footage (issue 28's check):
``eadbench robustness`` over the real clips with speech in ``../shared/data/real`` (an HDTF-layout
folder of symbolic links, ``run_bench.real_tree``), so each metric's change under harmless
perturbations (re-encodes, PCM audio, a 50 fps container, a 2 px jitter) is set beside its change
under harmful ones (audio shifts, shuffled frames, a frozen mouth).

    .venv/bin/python benchmarks/dynamics_robustness.py [--only retalking_1,retalking_3] \\
        [--metrics headmotion,headvel,lmd,lmd_dtw,action_dist,action_dist_dtw,expfid,blinkbrow] [--out DIR]

Prints robustness.md (also left in --out with robustness.json). Skips with the path when the
shared data is absent.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_bench import REAL, real_tree  # noqa: E402

METRICS = "headmotion,headvel,lmd,lmd_dtw,action_dist,action_dist_dtw,expfid,blinkbrow"
CLIPS = "WDA_AlexandriaOcasioCortez_000,WDA_KatieHill_000,retalking_1,retalking_3"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default=CLIPS, help="comma-separated real clip names")
    ap.add_argument("--metrics", default=METRICS)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--out", type=Path, default=None, help="output folder (default: a temporary one)")
    a = ap.parse_args()
    if not REAL.exists():
        raise SystemExit(f"skipped: no real clips at {REAL}")
    work = Path(tempfile.mkdtemp(prefix="eadbench-dynrob-"))
    root, split = real_tree(work, REAL, a.only.split(","))
    out = a.out or work / "robustness"
    cmd = [str(Path(sys.executable).parent / "eadbench"), "robustness", "--dataset", "hdtf", "--root", str(root),
           "--split-file", str(split), "--metrics", a.metrics, "--bootstrap", str(a.bootstrap),
           "--out", str(out), "--device", "cpu", "--quiet"]
    print(" ".join(cmd), flush=True)
    r = subprocess.run(cmd)
    if (out / "robustness.md").exists():
        print((out / "robustness.md").read_text())
    raise SystemExit(r.returncode)


if __name__ == "__main__":
    main()
