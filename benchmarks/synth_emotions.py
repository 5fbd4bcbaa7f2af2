"""Does the offline emotion classifier see the emotions of the built-in synthetic dataset?

Writes a synthetic dataset with the given settings (timing ``write_dataset``), then reads every
clip of the chosen split from disk exactly as the Acc_emo metric does (MTCNN track, face256
crop, face box, classifier probabilities averaged over frames, argmax; see
``eadbench.synth.readout``) and prints:

* per emotion: clips, ground-truth accuracy (contempt is excluded for the 7-class fer model),
  mean probability of the target emotion, what the classifier said;
* per intensity level: accuracy and mean target probability over the judged clips, and the
  same averaged per emotion first (the levels compared over the same emotions);
* the fraction of frames (and of clips) where the tracker found a face;
* the write time and the read time.

``--lower-face`` also renders each clip of the split with only its lower face expressive (the
rows above the nose tip taken from the same clip rendered neutral: same speech, mouth and head
motion) and reads those, which is what a generator that inpaints the lower half can show.
``--real DIR`` also reads the real MEAD clips ``mead_*_<emotion>_level*_*.mp4`` in DIR for
comparison (for instance the W011 clips in ../shared/data/real).

    .venv/bin/python benchmarks/synth_emotions.py --speakers 8 --clips 7 --seconds 2 --size 256
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np


def _mean(xs) -> float:
    xs = list(xs)
    return float(np.mean(xs)) if xs else float("nan")


def _row(clip_id: str, speaker: str, emotion: str, level: int, reading) -> dict:
    return {"clip_id": clip_id, "speaker": speaker, "emotion": emotion, "level": level, "pred": reading.pred,
            "correct": reading.correct, "target_prob": reading.target_prob, "missing": len(reading.missing),
            "frames": reading.n_frames}


def read_split(root: Path, split: str, clf) -> list[dict]:
    from eadbench import datasets, media
    from eadbench.synth.readout import read_clip

    clips = datasets.scan("synth", root, split=None if split == "all" else split).clips
    return [_row(c.clip_id, c.speaker, c.emotion, c.intensity,
                 read_clip(media.read_frames(c.video), c.emotion, clf)) for c in clips]


def read_lower_face(settings: dict, split: str, clf) -> list[dict]:
    """Clips whose face above the nose tip is the neutral twin's: only the lower face is expressive."""
    from eadbench.synth.face import portrait
    from eadbench.synth.generate import _plan, _test_group, render_clip
    from eadbench.synth.readout import read_clip

    rows = []
    for item in _plan(settings["layout"], settings["speakers"], settings["clips"]):
        test = _test_group(settings["layout"], item["speaker_index"])
        if split != "all" and test != (split == "test"):
            continue
        args = (settings["seconds"], settings["size"], settings["seed"])
        frames = render_clip(item, *args)[0]
        if item["emotion"] != "neutral":
            p = portrait(item["speaker_index"], settings["size"])
            rows_y = np.arange(settings["size"], dtype=np.float32)
            lower = np.clip((rows_y - p.nose[1]) / (0.1 * p.eye_dist) + 0.5, 0, 1)[None, :, None, None]
            neutral = render_clip(item, *args, emotion="neutral")[0]
            frames = (frames * lower + neutral * (1 - lower) + 0.5).astype(np.uint8)
        rows.append(_row(item["clip_id"], item["speaker"], item["emotion"], item["level"],
                         read_clip(frames, item["emotion"], clf)))
    return rows


def read_real(folder: Path, clf) -> list[dict]:
    from eadbench import media
    from eadbench.synth.readout import read_clip

    rows = []
    for path in sorted(folder.glob("mead_*.mp4")):
        m = re.match(r"mead_(\w+?)_front_([a-z]+)_level(\d)_", path.name)
        if m:
            reading = read_clip(media.read_frames(path), m.group(2), clf)
            rows.append(_row(path.stem, m.group(1), m.group(2), int(m.group(3)), reading))
    return rows


def summarise(rows: list[dict]) -> dict:
    judged = [r for r in rows if r["correct"] is not None]
    per_emotion = {}
    for e in sorted({r["emotion"] for r in rows}):
        rs = [r for r in rows if r["emotion"] == e]
        js = [r for r in rs if r["correct"] is not None]
        preds: dict = defaultdict(int)
        for r in rs:
            preds[r["pred"]] += 1
        per_emotion[e] = {"n": len(rs), "judged": len(js), "acc": _mean(r["correct"] for r in js),
                          "target_prob": _mean(r["target_prob"] for r in js),
                          "preds": dict(sorted(preds.items()))}
    per_level = {}
    emotional = [r for r in judged if r["emotion"] != "neutral"]
    for lev in sorted({r["level"] for r in emotional}):
        rs = [r for r in emotional if r["level"] == lev]
        by_emotion = defaultdict(list)
        for r in rs:
            by_emotion[r["emotion"]].append(r["target_prob"])
        per_level[lev] = {"n": len(rs), "acc": _mean(r["correct"] for r in rs),
                          "target_prob": _mean(r["target_prob"] for r in rs),
                          "per_emotion_mean": _mean(_mean(v) for v in by_emotion.values())}
    frames = sum(r["frames"] for r in rows)
    return {"clips": len(rows), "judged": len(judged), "excluded": len(rows) - len(judged),
            "acc_emo": _mean(r["correct"] for r in judged), "per_emotion": per_emotion,
            "per_level": per_level,
            "face_frames": (frames - sum(r["missing"] for r in rows)) / max(1, frames),
            "face_clips": sum(r["missing"] == 0 for r in rows) / max(1, len(rows))}


def _fmt(v, pct: bool = False) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "-"
    return f"{100 * v:.0f}%" if pct else f"{v:.3f}"


def print_table(title: str, s: dict) -> None:
    print(f"\n{title}: {s['clips']} clips, {s['judged']} judged ({s['excluded']} excluded), "
          f"Acc_emo {_fmt(s['acc_emo'], True)}")
    print(f"{'emotion':<11}{'clips':>6}{'acc':>7}{'p(target)':>11}  predictions")
    for e, v in s["per_emotion"].items():
        preds = ", ".join(f"{k} {n}" for k, n in v["preds"].items())
        print(f"{e:<11}{v['n']:>6}{_fmt(v['acc'], True):>7}{_fmt(v['target_prob']):>11}  {preds}")
    print(f"{'level':<11}{'clips':>6}{'acc':>7}{'p(target)':>11}{'per-emotion mean':>18}")
    for lev, v in s["per_level"].items():
        print(f"{lev:<11}{v['n']:>6}{_fmt(v['acc'], True):>7}{_fmt(v['target_prob']):>11}"
              f"{_fmt(v['per_emotion_mean']):>18}")
    print(f"face found: {100 * s['face_frames']:.2f}% of frames; "
          f"{100 * s['face_clips']:.0f}% of clips have a face in every frame")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layout", default="mead", choices=("mead", "hdtf", "ravdess"))
    ap.add_argument("--speakers", type=int, default=8)
    ap.add_argument("--clips", type=int, default=7, help="clips per speaker")
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--split", default="test", choices=("test", "train", "all"))
    ap.add_argument("--classifier", default="fer", help="fer (7 classes), or hsemotion with its weights")
    ap.add_argument("--out", type=Path, help="dataset folder to write (default: a temporary folder)")
    ap.add_argument("--lower-face", action="store_true", help="also read clips expressive below the nose")
    ap.add_argument("--real", type=Path, help="folder with real MEAD clips mead_*_<emotion>_level*_*.mp4")
    ap.add_argument("--json", type=Path, help="also write every number (and every clip's reading) here")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads for MTCNN and the classifier (1: ~10x faster on a busy 2-core box)")
    a = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from eadbench.synth import write_dataset
    from eadbench.synth.readout import classifier

    torch.set_num_threads(a.threads)
    clf = classifier(a.classifier)
    settings = {"layout": a.layout, "speakers": a.speakers, "clips": a.clips, "seconds": a.seconds,
                "size": a.size, "seed": a.seed}
    with tempfile.TemporaryDirectory(prefix="synth-emotions-") as tmp:
        root = a.out or Path(tmp) / "synth"
        t0 = time.perf_counter()
        write_dataset(root, **settings)
        write_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        rows = read_split(root, a.split, clf)
        read_s = time.perf_counter() - t0
    print(f"settings {settings}, split {a.split}, classifier {clf.name}")
    out = {"settings": settings, "split": a.split, "classifier": clf.name, "write_s": write_s,
           "read_s": read_s, "synthetic": summarise(rows), "clips": rows}
    print_table(f"synthetic {a.split} split", out["synthetic"])
    print(f"write_dataset: {write_s:.1f} s for {a.speakers * a.clips} clips; "
          f"reading {len(rows)} clips: {read_s:.1f} s")
    if a.lower_face:
        lower = read_lower_face(settings, a.split, clf)
        out["lower_face"] = {"summary": summarise(lower), "clips": lower}
        print_table(f"synthetic {a.split} split, expressive below the nose only",
                    out["lower_face"]["summary"])
    if a.real:
        real = read_real(a.real, clf)
        out["real"] = {"summary": summarise(real), "clips": real}
        print_table(f"real MEAD clips in {a.real}", out["real"]["summary"])
    if a.json:
        a.json.write_text(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main()
