"""Benchmark `eadbench run` end to end, this version side by side with an earlier one.

    .venv/bin/python benchmarks/run_bench.py --real                # real third-party clips
    .venv/bin/python benchmarks/run_bench.py --speakers 4 --clips 2  # the built-in synthetic data

``--real`` builds an HDTF-layout tree of symlinks to the clips in ``../shared/data/real`` (512x512
HDTF, 22.13/25/30 fps clips, the 1080x1920 portrait with its side wav; nothing is copied) with
a split file listing them all as test, and runs ``ground_truth`` and ``static`` with every metric
whose weights ship offline (SSIM, PSNR, FVD, Acc_emo, LMD). The earlier version (``--old``,
default 2a7828d, the commit before the real-scale engine) is checked out in a temporary git
worktree and run by the same interpreter, alternating with this version, ``--repeat`` times
each: cold (empty cache and run folder) and warm (the same run folder again). Printed: wall
time and CPU-seconds (user + system, of the command and its children) min/median, frames per
second (frames scored = frames x methods), the ratios, the per-stage seconds of this version
(``timings.json``), and how far every summary value moved. ``--only retalking_3,retalking_5``
is the two-clip run of issue 24.
``--json FILE`` writes all of it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REAL = REPO.parent / "shared" / "data" / "real"
#: real clips -> HDTF-style names (the loader needs <RD|WDA|WRA>_<name>_<idx>)
REAL_CLIPS = {
    "WDA_AlexandriaOcasioCortez_000.mp4": "WDA_AlexandriaOcasioCortez_000.mp4",
    "WDA_KatieHill_000.mp4": "WDA_KatieHill_000.mp4",
    "retalking_1.mp4": "WRA_Retalking1_000.mp4",
    "retalking_3.mp4": "WRA_Retalking3_000.mp4",
    "retalking_5.mp4": "WRA_Retalking5_000.mp4",
    "retalking_4.mp4": "WRA_Retalking4_000.mp4",
    "liveportrait_d20.mp4": "WRA_LivePortraitD20_000.mp4",
    "latentsync_demo1_video.mp4": "WRA_LatentsyncDemo1_000.mp4",
}
SIDE_AUDIO = {"latentsync_demo1_video.mp4": "latentsync_demo1_audio.wav"}


def real_tree(dest: Path, real: Path, only: list[str] | None = None) -> tuple[Path, Path]:
    """HDTF-layout folder of symlinks to the real clips, and a split file naming them test."""
    root = dest / "hdtf"
    root.mkdir(parents=True)
    chosen = {s: n for s, n in REAL_CLIPS.items() if not only or s in only or Path(s).stem in only}
    for src, name in chosen.items():
        if not (real / src).exists():
            continue
        (root / name).symlink_to(real / src)
        if src in SIDE_AUDIO:
            (root / name).with_suffix(".wav").symlink_to(real / SIDE_AUDIO[src])
    split = dest / "real-test.txt"
    split.write_text("".join(f"{Path(n).stem} test\n" for n in chosen.values()))
    return root, split


def old_checkout(rev: str, work: Path) -> dict[str, str]:
    """A worktree of ``rev`` and the environment that makes this interpreter import it (its
    eadbench and its eadnet) instead of the installed checkout."""
    wt = work / "old"
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "-f", str(wt), rev], check=True,
                   capture_output=True)
    shim = work / "old-shim"
    shim.mkdir()
    (shim / "eadnet").symlink_to(wt / "models" / "eadnet")
    (shim / "eadbench_baselines").symlink_to(wt / "baselines")
    return {"PYTHONPATH": f"{wt}{os.pathsep}{shim}", "EADBENCH_WORKTREE": str(wt)}


def timed(args: list[str], env: dict, cwd: Path) -> tuple[float, float, float]:
    """(wall seconds, user CPU seconds, system CPU seconds) of one command and its children."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    r = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"failed ({r.returncode}): {' '.join(args)}\n{r.stderr[-3000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime


def summary_values(run: Path) -> dict[str, float]:
    s = json.loads((run / "summary.json").read_text())
    return {f"{m}/{k}/{o}": e["value"] for m, ms in s["methods"].items() for k, outs in ms.items()
            for o, e in outs.items() if isinstance(e.get("value"), (int, float))}


def frames_scored(run: Path) -> int:
    from eadbench import media

    return sum(media.probe(p).n_frames for p in sorted((run / "videos").glob("*/*.mp4")))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--real", action="store_true", help="real clips from ../shared/data/real (default: synthetic)")
    ap.add_argument("--real-dir", type=Path, default=REAL)
    ap.add_argument("--speakers", type=int, default=4)
    ap.add_argument("--clips", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--metrics", default="ssim,psnr,fvd,emotion,lmd")
    ap.add_argument("--old", default="2a7828d", help="earlier commit to compare with ('' to skip)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--only", help="comma-separated real clip names (default: all of REAL_CLIPS)")
    ap.add_argument("--fast", action="store_true", help="also time this version with --tracking mtcnn-fast "
                    "('new-fast'; its numbers differ from every-frame full-resolution tracking)")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="eadbench-bench-"))
    base_env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    base_env.pop("PYTHONPATH", None)
    exe = [sys.executable, "-m", "eadbench.cli.main"]
    if a.real:
        if not a.real_dir.is_dir():
            raise SystemExit(f"real clips not found at {a.real_dir}")
        root, split = real_tree(work, a.real_dir, a.only.split(",") if a.only else None)
        data_args = ["--dataset", "hdtf", "--root", str(root), "--split-file", str(split)]
    else:
        root = work / "synth"
        subprocess.run(exe + ["synth", "--out", str(root), "--speakers", str(a.speakers), "--clips", str(a.clips),
                              "--seconds", str(a.seconds), "-q"], check=True, env=base_env)
        data_args = ["--dataset", "synth", "--root", str(root)]
    versions = {"new": (base_env, REPO, ["--device", a.device])}
    if a.fast:
        versions["new-fast"] = (base_env, REPO, ["--device", a.device, "--tracking", "mtcnn-fast"])
    if a.old:
        versions["old"] = ({**base_env, **old_checkout(a.old, work)}, work, [])
    rows: dict[str, dict[str, list[float]]] = {v: {k: [] for k in ("cold", "warm", "cold_cpu", "cold_sys", "warm_cpu")}
                                                for v in versions}
    runs: dict[str, Path] = {}
    for i in range(a.repeat):
        for v, (env, cwd, extra) in versions.items():
            out = work / f"run-{v}-{i}"
            env = {**env, "EADBENCH_CACHE": str(work / f"cache-{v}-{i}")}
            args = exe + ["run", *data_args, "--methods", "ground_truth,static", "--metrics", a.metrics,
                          "--quiet", "--out", str(out), *extra]
            wall, user, system = timed(args, env, cwd)
            rows[v]["cold"].append(wall)
            rows[v]["cold_cpu"].append(user + system)
            rows[v]["cold_sys"].append(system)
            if v == "new":
                cold_timings = json.loads((out / "timings.json").read_text())
            wall, user, system = timed(args, env, cwd)
            rows[v]["warm"].append(wall)
            rows[v]["warm_cpu"].append(user + system)
            runs[v] = out
            print(f"  run {i + 1}/{a.repeat} {v}: cold {rows[v]['cold'][-1]:.1f} s wall, "
                  f"{rows[v]['cold_cpu'][-1]:.1f} CPU-s ({rows[v]['cold_sys'][-1]:.1f} system); "
                  f"warm {rows[v]['warm'][-1]:.1f} s", flush=True)
    n_frames = frames_scored(runs["new"])
    report: dict = {"data": "real" if a.real else "synthetic", "frames_scored": n_frames, "metrics": a.metrics,
                    "repeat": a.repeat, "old": a.old, "versions": {}}
    print(f"\n{'real clips' if a.real else 'synthetic clips'}: {n_frames} frames scored per run "
          f"(ground_truth + static), metrics {a.metrics}, {a.repeat} runs each, device {a.device}")
    print(f"{'version':<8} {'cold min':>9} {'cold med':>9} {'fps':>7} {'CPU-s min':>9} {'CPU-s med':>9} "
          f"{'sys med':>8} {'warm min':>9} {'warm med':>9}")
    med = statistics.median
    for v, r in rows.items():
        report["versions"][v] = {**r, "fps_cold_median": n_frames / med(r["cold"]),
                                 "cpu_s_per_frame_median": med(r["cold_cpu"]) / n_frames}
        print(f"{v:<8} {min(r['cold']):9.1f} {med(r['cold']):9.1f} {n_frames / med(r['cold']):7.1f} "
              f"{min(r['cold_cpu']):9.1f} {med(r['cold_cpu']):9.1f} {med(r['cold_sys']):8.1f} "
              f"{min(r['warm']):9.2f} {med(r['warm']):9.2f}")
    if "old" in rows:
        ratio = med(rows["old"]["cold"]) / med(rows["new"]["cold"])
        report["cold_speedup_median"] = ratio
        report["cold_speedup_min"] = min(rows["old"]["cold"]) / min(rows["new"]["cold"])
        cpu = med(rows["new"]["cold_cpu"]) / med(rows["old"]["cold_cpu"])
        report["cold_cpu_ratio_median"] = cpu
        report["cold_cpu_ratio_min"] = min(rows["new"]["cold_cpu"]) / min(rows["old"]["cold_cpu"])
        print(f"cold wall speed-up new vs {a.old}: {ratio:.2f}x (median), {report['cold_speedup_min']:.2f}x (min)")
        print(f"cold CPU-seconds new / {a.old}: {cpu:.3f} (median), {report['cold_cpu_ratio_min']:.3f} (min)")
        if "new-fast" in rows:
            fast = med(rows["old"]["cold"]) / med(rows["new-fast"]["cold"])
            report["cold_speedup_fast_median"] = fast
            print(f"cold speed-up new --tracking mtcnn-fast vs {a.old}: {fast:.2f}x (median)")
        old_v = summary_values(runs["old"])
        for v in [x for x in runs if x != "old"]:
            new_v = summary_values(runs[v])
            diffs = {k: (old_v[k], new_v.get(k)) for k in sorted(old_v)}
            report[f"value_differences_{v}"] = diffs
            print(f"summary values, old -> {v}:")
            for k, (o, n) in diffs.items():
                d = "" if n is None else f"{n - o:+.4g}"
                print(f"  {k:<34} {o:>10.5g} -> {n if n is None else format(n, '.5g'):>10}  {d}")
    report["new_stage_seconds"] = cold_timings
    if "stages" in cold_timings:
        from eadbench.streams import format_stages

        print(f"this version, per stage (last cold run, summed over clips; {cold_timings['cpu_seconds']} CPU-s "
              "in all):")
        print(format_stages(cold_timings["stages"]))
    else:
        print("this version, seconds per stage (last cold run, summed over clips; decode = waiting for frames):")
        for k, v in cold_timings["seconds"].items():
            print(f"  {k:<22} {v:8.2f}")
    if a.json:
        a.json.write_text(json.dumps(report, indent=2))
    if a.old:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(work / "old")],
                       capture_output=True)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
