"""How far the three LSE procedures (protocols of the ``lse`` metric) move LSE-C, LSE-D and the AV
offset on the same real videos, with the same sync expert.

    .venv/bin/python benchmarks/lse_variants.py --expert sync.pt [--clips a.mp4,b.mp4] [--json out.json]

``syncnet-v2`` (syncnet_python on eadbench's face track and syncnet crops), ``wav2lip-lrs``
(Wav2Lip's LRS script: whole frames resized to 224) and ``latentsync`` (LatentSync's
eval_sync_conf: face tracks of more than 50 detections, scene cuts, confidence averaged over
tracks) score each clip of ``<shared>/data/real`` that has speech (its own audio track, or the
side wav named in AUDIO). Each video is decoded and face-tracked once; the three evaluators are
fed from that one pass, as ``eadbench run`` feeds them. Printed: one row per clip and protocol,
the means, and each protocol's mean absolute difference from ``syncnet-v2``. ``--json FILE``
writes every value. Without ``--expert`` the network is syncnet_v2.model from the weight store.
``--tracking`` picks eadbench's tracking protocol for syncnet-v2's face track (``mtcnn-fast``
detects on frames downscaled to a longer side of 384 px; latentsync's detector always sees the
frame at 0.25, as their S3FD call); ``--face-cache DIR`` keeps latentsync's detections (eadbench's
track cache keeps the tracks), so a rerun with another expert detects nothing again.

With a small CPU-trained expert (``eadbench syncnet train``) the absolute numbers are not
syncnet_v2's: what the table shows is how far the procedures alone move the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

CLIPS = ["WDA_AlexandriaOcasioCortez_000.mp4", "WDA_KatieHill_000.mp4", "retalking_1.mp4", "retalking_2.mp4",
         "retalking_3.mp4", "retalking_4.mp4", "retalking_5.mp4", "latentsync_demo1_video.mp4",
         "musetalk_sun.mp4"]
AUDIO = {"latentsync_demo1_video.mp4": "latentsync_demo1_audio.wav", "musetalk_sun.mp4": "musetalk_sun.wav"}
PROTOCOLS = ("syncnet-v2", "wav2lip-lrs", "latentsync")
OUTPUTS = ("lse_c", "lse_d", "av_offset")


def real_dir() -> Path:
    """``$EADBENCH_SHARED/data/real``, else ``shared/`` beside the checkout, else /work/shared."""
    env = os.environ.get("EADBENCH_SHARED")
    if env:
        return Path(env) / "data" / "real"
    beside = Path(__file__).resolve().parents[2] / "shared"
    return (beside if beside.exists() else Path("/work/shared")) / "data" / "real"


class CachedFaces:
    """latentsync's detector with its answers kept in a JSON file per video (content hash and
    detector's scale in the name), so a rerun with another expert does not detect again."""

    def __init__(self, detect, folder: Path | None, path: Path):
        from eadbench.weights import file_sha256

        self.detect, self.seen = detect, 0
        from eadbench.metrics.lse.latentsync_tracks import FACEDET_SCALE

        self.file = folder / f"{file_sha256(path)[:16]}-mtcnn-x{FACEDET_SCALE}.json" if folder else None
        self.faces: list = json.loads(self.file.read_text()) if self.file and self.file.exists() else []
        self.fresh = not self.faces

    def __call__(self, frames: np.ndarray):
        if not self.fresh:
            part = self.faces[self.seen:self.seen + len(frames)]
            self.seen += len(frames)
            return [[(np.asarray(b, dtype=np.float64), s) for b, s in faces] for faces in part]
        found = self.detect(frames)
        self.faces.extend([[[list(map(float, b)), float(s)] for b, s in faces] for faces in found])
        return found

    def save(self) -> None:
        if self.file and self.fresh:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            self.file.write_text(json.dumps(self.faces))


def score_clip(path: Path, audio: np.ndarray, evaluators: dict, store, tracking: str) -> dict:
    """One decode and one face track of ``path``; every protocol fed from it."""
    from eadbench.errors import EadbenchError
    from eadbench.media import FRAMES
    from eadbench.metrics.base import Chunk, ClipMeta
    from eadbench.streams import StreamResult, stream_video

    meta = ClipMeta(path.name, audio=audio)
    states, seconds, out = {}, {}, {}
    for name, ev in evaluators.items():
        states[name], seconds[name] = ev.begin(meta), 0.0
    views = {ev.views()[0] for ev in evaluators.values()}
    result = StreamResult()
    t0 = time.perf_counter()
    for chunk in stream_video(path, views, store, tracking, result=result):
        for name, ev in evaluators.items():
            view = ev.views()[0]
            images = chunk.frames if view == FRAMES else chunk.crops[view]
            t = time.perf_counter()
            ev.update(states[name], Chunk(chunk.start, images, None, None if view == FRAMES else chunk.ok))
            seconds[name] += time.perf_counter() - t
    stream_seconds = time.perf_counter() - t0 - sum(seconds.values())
    for name, ev in evaluators.items():
        if ev.views()[0] != FRAMES and result.failure:
            out[name] = {"failed": result.failure}
            continue
        t = time.perf_counter()
        try:
            out[name] = ev.end(states[name])
        except EadbenchError as exc:
            out[name] = {"failed": str(exc)}
        seconds[name] += time.perf_counter() - t
        out[name]["seconds"] = round(seconds[name], 2)
    return {"clip": path.name, "frames": result.frames, "audio_seconds": round(len(audio) / 16000, 2),
            "decode_and_track_seconds": round(stream_seconds, 2), "protocols": out}


def _cell(o: dict) -> str:
    if "failed" in o:
        return f"{'failed':>23}"
    if o.get("excluded"):
        return f"{'excluded':>23}"
    return f"{o['lse_c']:7.3f} {o['lse_d']:7.3f} {o['av_offset']:+5.0f}  "


def _brief(o: dict) -> str:
    if o.get("excluded") or o.get("failed"):
        return f"({o.get('excluded') or o.get('failed')})"
    return f"C {o['lse_c']:.3f} D {o['lse_d']:.3f} offset {o['av_offset']:+.0f} ({o['seconds']} s)"


def print_table(rows: list[dict], protocols: list[str]) -> dict:
    head = f"{'clip':<36}{'frames':>7}  " + "".join(f"{p + ' C/D/offset':>25}" for p in protocols)
    print(head)
    print("-" * len(head))
    for r in rows:
        extra = r["protocols"].get("latentsync", {})
        note = f"  tracks {extra.get('track_frames', '-')}" if "latentsync" in protocols else ""
        cells = "".join(f"{_cell(r['protocols'][p]):>25}" for p in protocols)
        print(f"{r['clip']:<36}{r['frames']:>7}  {cells}{note}")
    summary: dict = {}
    for p in protocols:
        ok = [r for r in rows if all(r["protocols"][q].get("lse_c") is not None for q in protocols)]
        summary[p] = {k: float(np.mean([r["protocols"][p][k] for r in ok])) if ok else None for k in OUTPUTS}
        summary[p]["n"] = len(ok)
    print("-" * len(head))
    print(f"{'mean over clips scored by all':<36}{'':>7}  "
          + "".join(f"{_cell(summary[p]) if summary[p]['n'] else 'none':>25}" for p in protocols))
    base = protocols[0]
    for p in protocols[1:]:
        ok = [r for r in rows if r["protocols"][p].get("lse_c") is not None
              and r["protocols"][base].get("lse_c") is not None]
        if not ok:
            continue
        d = {k: [r["protocols"][p][k] - r["protocols"][base][k] for r in ok] for k in OUTPUTS}
        summary[f"{p} - {base}"] = {
            "n": len(ok), "mean_abs_lse_c": float(np.mean(np.abs(d["lse_c"]))),
            "max_abs_lse_c": float(np.max(np.abs(d["lse_c"]))), "mean_lse_c": float(np.mean(d["lse_c"])),
            "mean_abs_lse_d": float(np.mean(np.abs(d["lse_d"]))), "mean_lse_d": float(np.mean(d["lse_d"])),
            "same_offset": int(sum(x == 0 for x in d["av_offset"]))}
        s = summary[f"{p} - {base}"]
        print(f"{p} vs {base} on {len(ok)} clips: LSE-C {s['mean_lse_c']:+.3f} on average (mean |diff| "
              f"{s['mean_abs_lse_c']:.3f}, max {s['max_abs_lse_c']:.3f}); LSE-D {s['mean_lse_d']:+.3f} "
              f"(mean |diff| {s['mean_abs_lse_d']:.3f}); same offset on {s['same_offset']}/{len(ok)}")
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--real-dir", type=Path, default=None, help="the real clips (default: the shared data)")
    ap.add_argument("--expert", type=Path, help="sync expert from `eadbench syncnet train` (syncnet_path)")
    ap.add_argument("--clips", help="comma-separated file names (default: the nine clips with speech)")
    ap.add_argument("--protocols", default=",".join(PROTOCOLS))
    ap.add_argument("--tracking", default="mtcnn-full", help="tracking protocol of syncnet-v2's face track")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--face-cache", type=Path, help="keep latentsync's detections in this folder (a rerun "
                    "with another expert skips detection)")
    ap.add_argument("--json", type=Path, help="write every value here")
    a = ap.parse_args()
    import torch

    from eadbench import media
    from eadbench.metrics.base import MetricContext
    from eadbench.metrics.lse import LSEEvaluator
    from eadbench.weights import WeightStore

    torch.set_num_threads(a.threads)
    folder = a.real_dir or real_dir()
    if not folder.exists():
        raise SystemExit(f"no real clips at {folder} (set EADBENCH_SHARED or --real-dir)")
    store = WeightStore(device="cpu")
    options = {"syncnet_path": str(a.expert)} if a.expert else {}
    protocols = a.protocols.split(",")
    evaluators = {p: LSEEvaluator(MetricContext(store=store, protocol=p, options=dict(options)))
                  for p in protocols}
    rows = []
    for name in (a.clips.split(",") if a.clips else CLIPS):
        path = folder / name
        if not path.exists():
            print(f"{name}: not in {folder}, skipped")
            continue
        audio = media.read_audio(folder / AUDIO.get(name, name))
        cache = None
        if "latentsync" in evaluators:
            ev = evaluators["latentsync"]
            cache = ev.detector = CachedFaces(ev.procedure.mtcnn_faces, a.face_cache, path)
        rows.append(score_clip(path, audio, evaluators, store, a.tracking))
        if cache is not None:
            cache.save()
        done = rows[-1]["protocols"]
        print(f"[{len(rows)}] {name}: " + "; ".join(f"{p} {_brief(o)}" for p, o in done.items()), flush=True)
    print()
    summary = print_table(rows, protocols)
    if a.json:
        a.json.write_text(json.dumps({"expert": str(a.expert) if a.expert else "syncnet_v2.model",
                                      "tracking": a.tracking, "rows": rows, "summary": summary}, indent=2,
                                     default=float))


if __name__ == "__main__":
    main()
