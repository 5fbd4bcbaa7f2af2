"""Validation of the temporally tolerant paired scores on real footage: LMD and the facial
action-vector distance, frame by frame and after banded DTW, for the real clip against itself, a
copy that lags by a few frames, a still frame and a harmless re-encoding.

    .venv/bin/python benchmarks/dtw_validation.py [--max-frames 125] [--crf 28] [--json F]

Why: ``lmd_dtw`` (``lmd-dtw-band@1``) and ``action_dist_dtw`` (``action-vector-dtw-band@1``) must
give the ideal value (0) for the real clip, (nearly) the ideal value for the real clip two frames
late, which the frame-by-frame ``lmd`` and ``action_dist`` punish; a still frame must score clearly
worse under both; a harmless re-encoding must move every score less than the harmful copies do.
This script is the measurement behind the README's numbers.

Every real talking clip of ``<shared>/data/real`` (HDTF ``WDA_*``, video-retalking ``retalking_1..5``,
LivePortrait ``d11``/``d20``, one MEAD clip), its first ``--max-frames`` frames, tracked the tests'
quick way (MTCNN on every 8th frame, boxes interpolated, ``face256`` crops). Copies, each scored
against the real crops' mesh:

* ``real``: the real crops themselves;
* ``late2`` / ``late8``: the real clip 2 (inside the DTW band) or 8 (outside it) frames late, its
  first frame held; the mesh is per frame, so this is the real mesh series shifted;
* ``static``: the first crop on every frame (its mesh, repeated);
* ``reencoded``: the real frames through H.264 at ``--crf`` (libx264, yuv420p), read back and cut
  with the real clip's crop track (the same boxes: only the codec differs).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CLIPS = ("WDA_AlexandriaOcasioCortez_000", "WDA_KatieHill_000", "retalking_1", "retalking_2", "retalking_3",
         "retalking_4", "retalking_5", "liveportrait_d11", "liveportrait_d20", "mead_W011_front_neutral_level1_001")
COPIES = ("real", "late2", "late8", "static", "reencoded")
SCORES = ("lmd", "lmd_dtw", "f_lmd", "f_lmd_dtw", "action_dist", "action_dist_dtw", "lmd_dtw_lag")


def late(marks: np.ndarray, k: int) -> np.ndarray:
    """The series ``k`` frames late: its first frame held for ``k`` frames, the same length."""
    return np.concatenate([np.repeat(marks[:1], k, axis=0), marks[:-k]])


def scores(fake: np.ndarray, real: np.ndarray) -> dict:
    from eadbench.metrics.action_dist import action_dist_from_landmarks
    from eadbench.metrics.action_dist_dtw import action_dist_dtw_from_landmarks
    from eadbench.metrics.lmd import lmd_from_landmarks
    from eadbench.metrics.lmd_dtw import lmd_dtw_from_landmarks

    out = {**lmd_from_landmarks(fake[..., :2], real[..., :2]), **lmd_dtw_from_landmarks(fake, real),
           **action_dist_from_landmarks(fake, real), **action_dist_dtw_from_landmarks(fake, real)}
    return {k: out[k] for k in SCORES}


def measure(path: Path, max_frames: int, crf: int, mesh) -> dict:
    """copy -> its scores against the real crops."""
    from eadbench import faces, media
    from tests.helpers.faces import fast_track, reencoded

    frames = media.read_frames(path, max_frames=max_frames)
    track = fast_track(frames)
    real = mesh.series(faces.crop_clip(frames, "face256", track).frames)
    marks = {"real": real, "late2": late(real, 2), "late8": late(real, 8),
             "static": np.repeat(real[:1], len(real), axis=0),
             "reencoded": mesh.series(faces.crop_clip(reencoded(frames, crf), "face256", track).frames)}
    return {k: scores(marks[k], real) for k in COPIES}


def main(argv: list[str] | None = None) -> int:
    import torch

    from eadbench.nets.face_mesh import face_mesh
    from tests.helpers.shared_data import real_data

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-frames", type=int, default=125)
    ap.add_argument("--crf", type=int, default=28)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    mesh = face_mesh()
    rows = {}
    for clip in CLIPS:
        path = real_data() / f"{clip}.mp4"
        if not path.exists():
            print(f"{clip}: skipped, {path} not found")
            continue
        rows[clip] = m = measure(path, args.max_frames, args.crf, mesh)
        assert all(m["real"][k] == 0.0 for k in SCORES), m["real"]
        print(f"{clip}")
        for k in COPIES[1:]:
            print(f"  {k:10} " + " ".join(f"{s} {m[k][s]:.3f}" for s in SCORES))
    if not rows:
        print("no real clips found: nothing measured")
        return 1
    stats = {k: {s: {"mean": float(np.mean([r[k][s] for r in rows.values()])),
                     "min": float(np.min([r[k][s] for r in rows.values()])),
                     "max": float(np.max([r[k][s] for r in rows.values()]))} for s in SCORES} for k in COPIES}
    print(f"mean (min-max) over {len(rows)} clips:")
    for k in COPIES:
        print(f"  {k:10} " + "; ".join(f"{s} {v['mean']:.3f} ({v['min']:.3f}-{v['max']:.3f})"
                                       for s, v in stats[k].items()))
    if args.json:
        args.json.write_text(json.dumps({"settings": vars(args) | {"json": str(args.json)}, "clips": rows,
                                         "stats": stats}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
