"""Are a refactor's results byte-identical? This version's `eadbench run` next to an earlier one's.

    .venv/bin/python benchmarks/identity_check.py --base d3043f7            # every metric, 3 protocol sets
    .venv/bin/python benchmarks/identity_check.py --base HEAD~1 --metrics ssim,psnr --sets default

The earlier version (``--base``) is checked out in a temporary git worktree and run by the same
interpreter (``run_bench.old_checkout``); each version gets its own empty cache, so everything is
made from scratch: the synthetic data, the generated videos, every score. Both runs use stand-in
weights of the official shapes for the networks that cannot be downloaded here
(``tests/helpers/standins.py``, hash checks lifted for exactly those), so every registered metric
is scored. The run is ``eadbench run --dataset synth --methods ground_truth,static,eadnet --limit 2``
under each protocol set (``default``; ``alt``: lse=latentsync, avsync=mouth-envelope@1,
fvd=latentsync; ``lrs``: lse=wav2lip-lrs). Compared byte for byte: ``summary.json``,
``per_clip.csv``, ``failures.csv``, ``clip_details.jsonl`` and every generated ``.mp4`` (the
videos' JSON sidecars hold the code version in their cache key, so they differ by design).
Exit 1 when anything differs; ``--json FILE`` writes the comparison.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from run_bench import old_checkout  # noqa: E402

SETS = {
    "default": [],
    "alt": ["--protocol", "lse=latentsync", "--protocol", "avsync=mouth-envelope@1", "--protocol", "fvd=latentsync"],
    "lrs": ["--protocol", "lse=wav2lip-lrs"],
}
COMPARED = ("summary.json", "per_clip.csv", "failures.csv", "clip_details.jsonl")


def child(out: Path, metrics: str | None, sets: list[str]) -> None:
    """In the version's own process: stand-in weights, then the runs."""
    from tests.helpers.standins import relax_hashes, write_standins

    weights = out / "weights"
    weights.mkdir(parents=True, exist_ok=True)
    write_standins(weights)
    os.environ["EADBENCH_WEIGHTS"] = str(weights)
    relax_hashes()
    import eadbench
    import eadbench.metrics as M
    from eadbench.cli.main import main

    print(f"eadbench from {Path(eadbench.__file__).parent}", flush=True)

    names = metrics or ",".join(M.METRICS.names())
    for name in sets:
        sys.argv = ["eadbench", "run", "--dataset", "synth", "--methods", "ground_truth,static,eadnet",
                    "--metrics", names, "--limit", "2", "--metric-option", "emotion.classifier=fer",
                    "--out", str(out / name), *SETS[name]]
        try:
            main()
        except SystemExit as exc:
            if exc.code not in (0, None):
                raise


def compare(a: Path, b: Path) -> dict:
    """{file: identical?} for the compared files and every generated video of two run folders."""
    out = {f: filecmp.cmp(a / f, b / f, shallow=False) if (a / f).exists() and (b / f).exists() else False
           for f in COMPARED}
    videos = sorted({p.relative_to(a).as_posix() for p in a.glob("videos/*/*.mp4")}
                    | {p.relative_to(b).as_posix() for p in b.glob("videos/*/*.mp4")})
    for v in videos:
        out[v] = (a / v).exists() and (b / v).exists() and filecmp.cmp(a / v, b / v, shallow=False)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default="HEAD~1", help="the earlier commit (default HEAD~1)")
    ap.add_argument("--metrics", help="comma-separated metrics (default: every registered metric)")
    ap.add_argument("--sets", default=",".join(SETS), help=f"protocol sets, of {', '.join(SETS)}")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args()
    sets = a.sets.split(",")
    unknown = [s for s in sets if s not in SETS]
    if unknown:
        raise SystemExit(f"unknown protocol set {unknown[0]!r}; known: {', '.join(SETS)}")
    if a.child:
        return child(a.child, a.metrics, sets)
    work = Path(tempfile.mkdtemp(prefix="eadbench-identity-"))
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("PYTHONPATH", None)
    versions = {"base": {**env, **old_checkout(a.base, work)}, "this": {**env, "PYTHONPATH": str(REPO)}}
    try:
        for name, venv in versions.items():
            tree = Path(venv["PYTHONPATH"].split(os.pathsep)[0])
            venv["EADBENCH_CACHE"] = str(work / f"cache-{name}")
            args = [sys.executable, str(Path(__file__).resolve()), "--child", str(work / name), "--sets", a.sets]
            print(f"{name}: running {tree}", flush=True)
            r = subprocess.run(args + (["--metrics", a.metrics] if a.metrics else []), env=venv, cwd=tree,
                               capture_output=True, text=True)
            if r.returncode != 0:
                raise SystemExit(f"{name} failed ({r.returncode}):\n{r.stderr[-3000:]}")
            print("  " + next((x for x in r.stdout.splitlines() if x.startswith("eadbench from")), "?"), flush=True)
        result = {s: compare(work / "base" / s, work / "this" / s) for s in sets}
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(work / "old")],
                       capture_output=True)
    differ = [f"{s}/{f}" for s, files in result.items() for f, same in files.items() if not same]
    for s, files in result.items():
        n_videos = sum(f.endswith(".mp4") for f in files)
        print(f"{s}: {'identical' if not any(not v for v in files.values()) else 'DIFFERENT'} "
              f"({len(files) - n_videos} result files, {n_videos} videos)")
    for f in differ:
        print(f"  differs: {f}")
    if a.json:
        a.json.write_text(json.dumps({"base": a.base, "sets": result, "differ": differ}, indent=1))
    print(f"(run folders in {work})")
    raise SystemExit(1 if differ else 0)


if __name__ == "__main__":
    main()
