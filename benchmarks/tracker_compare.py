"""A tracking protocol against ``mtcnn-full`` on every real clip of ``../shared/data/real``:
boxes, crops, detection cost and every metric's value, as a Markdown and a JSON table.

    .venv/bin/python benchmarks/tracker_compare.py [--protocols mtcnn-full,mtcnn-track] [--max-frames 125]
        [--markdown out.md] [--json out.json]

Each clip's first ``--max-frames`` frames (at 25 fps) are written once, with their audio, as the
"real" video, and a still copy of its first frame as the "static" method. Per clip and protocol:

* detection cost: the tracker alone (``StreamTracker``, one torch thread), wall and CPU ms/frame;
* boxes against the reference protocol (the first one): IoU per frame of the raw detections and
  of the smoothed square boxes the crops are cut from (mean, min), crop-centre offset in pixels
  (mean, max) and half-size difference in pixels (mean);
* metrics as `eadbench score` computes them with ``--tracking``: static vs real (SSIM, PSNR,
  FVD on whole frames, as `eadbench run` does, so they must not move; LMD, emotion, AV-sync on
  face crops) and, cropped with ``face256`` (``--crop face256``), SSIM, PSNR and FVD of the
  crops; real vs real for the crop metrics that do not need a pair (emotion, AV-sync). FVD is
  one value over all clips (a set metric).

Tracks land in eadbench's track cache and everything else under ``--cache`` (default
``~/.cache/eadbench/tracker_compare``), so a rerun only recomputes what is missing. The
decision rule for a new default: every metric's mean move (over clips, against the reference)
is below the synthetic baseline's tolerance (``reports/baselines/synth.json``) or below the
clip-to-clip noise (the standard error of the reference's per-clip values); the table says which.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "real"
AUDIO = {"latentsync_demo1_video.mp4": "latentsync_demo1_audio.wav", "musetalk_sun.mp4": "musetalk_sun.wav"}
PAIR_METRICS = ["ssim", "psnr", "lmd", "emotion", "avsync"]  # static vs real, as `eadbench run` scores them
CROP_METRICS = ["ssim", "psnr"]  # static vs real on face256 crops (--crop face256)
SOLO_METRICS = ["emotion", "avsync"]  # the real clip alone
KEYS = {"ssim": ["ssim"], "psnr": ["psnr"], "lmd": ["lmd", "f_lmd"], "emotion": ["acc_emo"],
        "avsync": ["avsync_r", "avsync_offset"]}


def target_emotion(name: str) -> str:
    parts = name.split("_")
    return parts[3] if name.startswith("mead_") else "neutral"


def prepare(src: Path, cache: Path, max_frames: int) -> tuple[Path, Path]:
    """The clip's first frames (with audio) and a still copy of its first frame, written once."""
    from eadbench import media
    from eadbench.errors import EadbenchError

    real, static = cache / "real" / f"{src.stem}.mp4", cache / "static" / f"{src.stem}.mp4"
    if real.exists() and static.exists():
        return real, static
    frames = media.read_frames(src, max_frames=max_frames)
    try:
        audio = media.read_audio(src.parent / AUDIO.get(src.name, src.name))
        audio = audio[: int(len(frames) / media.VIDEO_FPS * media.AUDIO_RATE)]
    except EadbenchError:
        audio = None  # a silent clip: no AV-sync
    for path, fr in ((real, frames), (static, np.repeat(frames[:1], len(frames), axis=0))):
        path.parent.mkdir(parents=True, exist_ok=True)
        media.write_video(path, fr, audio=audio)
    return real, static


def detect(real: Path, protocol: str, store, cache: Path) -> dict:
    """Track the clip with one torch thread, time it, cache the track for `eadbench score`."""
    import torch

    from eadbench import media
    from eadbench.faces.track import TRACKING, StreamTracker
    from eadbench.streams import track_cache_path

    out = cache / "tracks" / f"{real.stem}-{protocol}.npz"
    timing = out.with_suffix(".json")
    proto = TRACKING.get(protocol)
    if not (out.exists() and timing.exists()):
        frames = media.read_frames(real)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        tr = StreamTracker(proto, store, source=str(real), buffer_bytes=1 << 40)
        wall, cpu = time.perf_counter(), time.process_time()
        for f in frames:
            tr.push(f)
        tr.finish()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        torch.set_num_threads(threads)
        track = tr.track()
        out.parent.mkdir(parents=True, exist_ok=True)
        track.save(out)
        det = getattr(tr.detector, "key_frames", len(frames))
        timing.write_text(json.dumps({"frames": len(frames), "size": f"{frames.shape[2]}x{frames.shape[1]}",
                                      "wall_ms": 1000 * wall / len(frames), "cpu_ms": 1000 * cpu / len(frames),
                                      "full_detections": det, "failure": tr.failure}))
    from eadbench.faces.track import Track

    track = Track.load(out)
    dest = track_cache_path(real, proto, store)
    if not dest.exists():
        track.save(dest)
    return {**json.loads(timing.read_text()), "track": track}


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise IoU of (N, 4) boxes x1, y1, x2, y2 (NaN where either is missing)."""
    w = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    h = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])  # noqa: E731
    return w * h / (area(a) + area(b) - w * h)


def squares(geo: np.ndarray) -> np.ndarray:
    cx, cy, s = geo.T
    return np.stack([cx - s, cy - s, cx + s, cy + s], axis=1)


def box_stats(ref, got) -> dict:
    raw = iou(ref.boxes, got.boxes)
    g0, g1 = ref.smoothed(), got.smoothed()
    crop = iou(squares(g0), squares(g1))
    off = np.hypot(*(g1[:, :2] - g0[:, :2]).T)
    return {"iou_raw_mean": float(np.nanmean(raw)), "iou_raw_min": float(np.nanmin(raw)),
            "iou_crop_mean": float(crop.mean()), "iou_crop_min": float(crop.min()),
            "offset_px_mean": float(off.mean()), "offset_px_max": float(off.max()),
            "size_px_mean": float(np.abs(g1[:, 2] - g0[:, 2]).mean())}


def values(records: list[dict], suffix: str = "") -> dict:
    """Per-item metric values, flattened to {key+suffix: value} for the one item scored."""
    out = {}
    for rec in records:
        if rec.get("error"):
            continue
        item = next(iter(rec["per_item"].values()), {})
        for k in KEYS.get(rec["metric"], []):
            if isinstance(item.get(k), (int, float)):
                out[k + suffix] = float(item[k])
    return out


def scores(real: Path, static: Path, protocol: str, store, cache: Path) -> dict:
    from eadbench.scoring import score

    out = cache / "scores" / f"{real.stem}-{protocol}.json"
    if not out.exists():
        emo = target_emotion(real.stem)
        kw = dict(emotion=emo, tracking=protocol, store=store)
        vals = {**values(score(PAIR_METRICS, static, real, **kw)),
                **values(score(CROP_METRICS, static, real, crop="face256", **kw), "_face256"),
                **values(score(SOLO_METRICS, real, **kw), "_real")}
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(vals))
    return json.loads(out.read_text())


def fvd(cache: Path, protocol: str, store) -> dict:
    from eadbench.scoring import score

    out = cache / "scores" / f"fvd-{protocol}.json"
    if not out.exists():
        vals = {}
        for crop, suffix in (("auto", ""), ("face256", "_face256")):
            rec = score(["fvd"], cache / "static", cache / "real", crop=crop, tracking=protocol, store=store)[0]
            vals["fvd" + suffix] = rec["value"]
        out.write_text(json.dumps(vals))
    return json.loads(out.read_text())


def tolerances() -> dict:
    tol = json.loads((ROOT / "reports" / "baselines" / "synth.json").read_text())["tolerance"]
    return {k: v.get("abs") for k, v in tol.items()}


def verdict(rows: list[dict], ref: str, other: str) -> list[dict]:
    """Per metric: mean |move| over clips against the tolerance and the clip-to-clip noise."""
    tol = tolerances()
    got = [(r["metrics"].get(ref, {}), r["metrics"].get(other, {})) for r in rows]
    keys = sorted({k for m0, m1 in got for k in m0} & {k for m0, m1 in got for k in m1})
    out = []
    for k in keys:
        pairs = [(m0[k], m1[k]) for m0, m1 in got if k in m0 and k in m1]
        a, b = np.array(pairs, dtype=np.float64).T
        move = float(np.abs(b - a).mean())
        noise = float(a.std(ddof=1) / np.sqrt(len(a))) if len(a) > 1 else float("nan")
        t = tol.get(k.replace("_face256", "").replace("_real", ""))
        out.append({"metric": k, "clips": len(a), "mean_ref": float(a.mean()), "mean": float(b.mean()),
                    "mean_abs_move": move, "max_abs_move": float(np.abs(b - a).max()), "tolerance": t,
                    "noise": noise, "within_tolerance": t is not None and move < t, "within_noise": move < noise})
    return out


def markdown(rows: list[dict], verdicts: list[dict], fvds: dict, ref: str, other: str) -> str:
    lines = [f"| clip | size | frames | {ref} ms/frame | {other} ms/frame | speed-up | full detections | "
             "IoU raw mean / min | IoU crop mean / min | crop offset px mean / max | size px |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- | ---: |"]
    for r in rows:
        d0, d1, b = r["detect"][ref], r["detect"][other], r["boxes"]
        lines.append(f"| {r['clip']} | {d0['size']} | {d0['frames']} | {d0['cpu_ms']:.1f} | {d1['cpu_ms']:.1f} | "
                     f"{d0['cpu_ms'] / d1['cpu_ms']:.1f}x | {d1['full_detections']} | {b['iou_raw_mean']:.3f} / "
                     f"{b['iou_raw_min']:.3f} | {b['iou_crop_mean']:.3f} / {b['iou_crop_min']:.3f} | "
                     f"{b['offset_px_mean']:.2f} / {b['offset_px_max']:.2f} | {b['size_px_mean']:.2f} |")
    tot0 = sum(r["detect"][ref]["cpu_ms"] * r["detect"][ref]["frames"] for r in rows)
    tot1 = sum(r["detect"][other]["cpu_ms"] * r["detect"][other]["frames"] for r in rows)
    lines += ["", f"All clips: {tot0 / 1000:.1f} CPU-s ({ref}) vs {tot1 / 1000:.1f} CPU-s ({other}) of detection, "
              f"{tot0 / tot1:.1f}x.", "",
              f"| metric | clips | mean {ref} | mean {other} | mean abs move | max abs move | tolerance | "
              "clip-to-clip noise | within |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for v in verdicts:
        within = ("tolerance" if v["within_tolerance"] else "") + (
            (" and " if v["within_tolerance"] else "") + "noise" if v["within_noise"] else "")
        lines.append(f"| {v['metric']} | {v['clips']} | {v['mean_ref']:.4f} | {v['mean']:.4f} | "
                     f"{v['mean_abs_move']:.4f} | {v['max_abs_move']:.4f} | {v['tolerance'] or '-'} | "
                     f"{v['noise']:.4f} | {within or 'NO'} |")
    lines += ["", f"Metrics on {sum(bool(r['metrics']) for r in rows)} of {len(rows)} clips.",
              "", "FVD over all clips (static vs real): " + ", ".join(
        f"{k} {fvds[ref][k]:.2f} ({ref}) vs {fvds[other][k]:.2f} ({other})" for k in fvds[ref])]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--real-dir", type=Path, default=REAL)
    ap.add_argument("--protocols", default="mtcnn-full,mtcnn-track")
    ap.add_argument("--max-frames", type=int, default=125)
    ap.add_argument("--cache", type=Path)
    ap.add_argument("--clips", help="comma-separated file names (default: every mp4)")
    ap.add_argument("--no-metrics", action="store_true", help="boxes and detection cost only")
    ap.add_argument("--cached-only", action="store_true", help="metrics only where already computed")
    ap.add_argument("--markdown", type=Path)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    from eadbench.weights import WeightStore, eadbench_cache

    ref, other = a.protocols.split(",")
    cache = a.cache or eadbench_cache() / "tracker_compare" / f"max{a.max_frames}"
    store = WeightStore(device="cpu")
    clips = sorted(a.real_dir.glob("*.mp4")) if not a.clips else [a.real_dir / c for c in a.clips.split(",")]
    rows = []
    for src in clips:  # boxes and detection cost of every clip first (cheap), then the metrics
        real, static = prepare(src, cache, a.max_frames)
        det = {p: detect(real, p, store, cache) for p in (ref, other)}
        rows.append({"clip": src.name, "boxes": box_stats(det[ref].pop("track"), det[other].pop("track")),
                     "detect": det, "metrics": {}})
        print(json.dumps(rows[-1], default=float), flush=True)
    for src, row in zip(clips, rows):
        if a.no_metrics:
            continue
        real, static = prepare(src, cache, a.max_frames)
        done = all((cache / "scores" / f"{real.stem}-{p}.json").exists() for p in (ref, other))
        if done or not a.cached_only:
            row["metrics"] = {p: scores(real, static, p, store, cache) for p in (ref, other)}
            print(json.dumps(row, default=float), flush=True)
    whole = a.clips is None and not a.no_metrics and not a.cached_only
    fvds = {p: fvd(cache, p, store) for p in (ref, other)} if whole else {ref: {}, other: {}}
    verdicts = verdict(rows, ref, other)
    md = markdown(rows, verdicts, fvds, ref, other)
    print(md)
    if a.markdown:
        a.markdown.write_text(md)
    if a.json:
        a.json.write_text(json.dumps({"rows": rows, "verdicts": verdicts, "fvd": fvds, "max_frames": a.max_frames},
                                     indent=1, default=float))


if __name__ == "__main__":
    main()
