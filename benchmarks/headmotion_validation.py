"""Validation of the head-motion metrics on real footage: the real clip against itself, a still
frame, a frozen-head copy (the mouth still talks) and a harmless re-encoding of the real clip.

    .venv/bin/python benchmarks/headmotion_validation.py [--max-frames 125] [--crf 28] [--json F]

Why: ``headmotion`` (``head-pose@1``) and ``headvel`` (``head-velocity-fd@1``) must give the ideal
value for the real clip, clearly worse values for a still head and a frozen head, and must move
less under a harmless re-encoding than under those harmful changes; this script is the
measurement behind the README's numbers.

Every real talking clip of ``<shared>/data/real`` (HDTF ``WDA_*``, video-retalking ``retalking_1..5``,
LivePortrait ``d11``/``d20``, one MEAD clip, whose speaker barely moves her head), its first
``--max-frames`` frames at 25 fps, tracked the tests' quick way (MTCNN on every 8th frame, boxes
interpolated, ``face256`` crops). Copies, each scored against the real crops:

* ``real``: the real crops themselves (ideal: gap 0, energy 1, FD 0);
* ``static``: the first crop on every frame;
* ``frozen``: ``tests.helpers.faces.frozen_head`` (the first crop, each frame's mouth window pasted in);
* ``reencoded``: the real frames through H.264 at ``--crf`` (libx264, yuv420p), read back and cut
  with the real clip's crop track (the same boxes: only the codec differs).

Printed and written: per clip ``headmotion_gap`` and ``headmotion_energy`` of each copy; over the
set, ``headvel_fd`` of each copy's velocities against the real ones.
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
COPIES = ("real", "static", "frozen", "reencoded")


def measure(path: Path, max_frames: int, crf: int, mesh) -> dict:
    """copy -> (its velocities, deg/s) and per-copy outputs against the real crops."""
    from eadbench import faces, media
    from eadbench.metrics.headmotion import headmotion_from_landmarks
    from eadbench.metrics.headvel import headvel_features
    from tests.helpers.faces import fast_track, frozen_head, reencoded

    frames = media.read_frames(path, max_frames=max_frames)
    track = fast_track(frames)
    real = faces.crop_clip(frames, "face256", track).frames
    crops = {"real": real, "static": np.repeat(real[:1], len(real), axis=0), "frozen": frozen_head(real),
             "reencoded": faces.crop_clip(reencoded(frames, crf), "face256", track).frames}
    marks = {k: mesh.series(v) for k, v in crops.items()}
    out = {}
    for k in COPIES:
        r = headmotion_from_landmarks(marks[k], marks["real"])
        out[k] = {"gap": r["headmotion_gap"], "energy": r["headmotion_energy"],
                  "speed": r["headmotion_speed"], "velocities": headvel_features(marks[k])}
    return out


def main(argv: list[str] | None = None) -> int:
    import torch

    from eadbench.metrics.headvel import headvel_from_features
    from eadbench.nets.face_mesh import face_mesh
    from tests.helpers.shared_data import real_data

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-frames", type=int, default=125)
    ap.add_argument("--crf", type=int, default=28)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    mesh = face_mesh()
    rows, vel = {}, {k: [] for k in COPIES}
    print(f"{'clip':34} {'real speed':>10} " + " ".join(f"{k + ' gap/energy':>22}" for k in COPIES[1:]))
    for clip in CLIPS:
        path = real_data() / f"{clip}.mp4"
        if not path.exists():
            print(f"{clip}: skipped, {path} not found")
            continue
        m = measure(path, args.max_frames, args.crf, mesh)
        assert m["real"]["gap"] == 0.0 and m["real"]["energy"] == 1.0, m["real"]
        rows[clip] = {k: {a: m[k][a] for a in ("gap", "energy", "speed")} for k in COPIES}
        for k in COPIES:
            vel[k].append(m[k]["velocities"])
        print(f"{clip:34} {m['real']['speed']:>8.1f}°/s "
              + " ".join(f"{m[k]['gap']:>12.3f}/{m[k]['energy']:<9.3f}" for k in COPIES[1:]))
    if not rows:
        print("no real clips found: nothing measured")
        return 1
    real = np.concatenate(vel["real"])
    fds = {k: headvel_from_features(np.concatenate(vel[k]), real) for k in COPIES}
    means = {k: {a: float(np.mean([r[k][a] for r in rows.values()])) for a in ("gap", "energy")} for k in COPIES}
    print("mean over clips: " + "; ".join(f"{k} gap {means[k]['gap']:.3f} energy {means[k]['energy']:.3f}"
                                          for k in COPIES))
    print("headvel_fd vs the real set, (deg/s)^2: " + "; ".join(f"{k} {v:.1f}" for k, v in fds.items()))
    if args.json:
        args.json.write_text(json.dumps({"settings": vars(args) | {"json": str(args.json)}, "clips": rows,
                                         "means": means, "headvel_fd": fds}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
