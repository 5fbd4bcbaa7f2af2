"""eadbench's MTCNN cascade (``eadbench.faces.cascade``, the CPU path of every tracking protocol)
against facenet-pytorch's ``detect_face`` run as ``mtcnn-full`` (whole pyramid, every frame):
the faces found and their cost, on every real clip of ``../shared/data/real``.

    .venv/bin/python benchmarks/cascade_compare.py [--max-frames 50] [--markdown F] [--json F]

Per clip: the first ``--max-frames`` frames (at 25 fps), detected in batches of 32 (as the
tracker does) by (a) facenet-pytorch's own MTCNN (its networks and ``detect_face``) with MTCNN's 20
px smallest face, the reference of ``mtcnn-full``, (b) the cascade with the same pyramid (``mtcnn-full`` today) and (c)
the cascade with the pyramid of ``mtcnn-large``, the default (``detect_large``). Reported: CPU ms
per frame on one torch thread, whether each frame has the same number of faces, and the largest
difference in any box coordinate, landmark or score against (a). Skips, saying where it looked,
when the real clips are absent.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "real"
BATCH = 32


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _faces(boxes, points) -> list[np.ndarray]:
    """One (k, 15) array per frame: box, score, landmarks."""
    out = []
    for b, p in zip(boxes, points):
        b = np.asarray(b, dtype=np.float64).reshape(-1, 5)
        p = np.asarray(p, dtype=np.float64).reshape(-1, 10)
        out.append(np.concatenate([b, p], axis=1))
    return out


def compare(clip: Path, max_frames: int) -> dict:
    import torch

    from eadbench.nets.mtcnn import patch_torchvision_ops

    patch_torchvision_ops()
    from facenet_pytorch.models.utils.detect_face import detect_face as reference

    from eadbench.faces import cascade
    from eadbench.faces.track import TRACKING
    from eadbench.faces.video import pyramid_min_face
    from eadbench.media import read_frames
    from eadbench.nets.mtcnn import mtcnn

    model = mtcnn(None)
    patch_torchvision_ops()
    from facenet_pytorch import MTCNN

    ref = MTCNN(keep_all=True, device="cpu", post_process=False, select_largest=False)  # facenet-pytorch's own
    frames = read_frames(clip, max_frames=max_frames)
    nets = (model.pnet, model.rnet, model.onet, model.thresholds, model.factor)
    large = pyramid_min_face(TRACKING.get("mtcnn-large").min_face_fraction * min(frames.shape[1:3]))
    runs = {"facenet-full": lambda b: reference(b, 20, ref.pnet, ref.rnet, ref.onet, ref.thresholds, ref.factor, "cpu"),
            "cascade-full": lambda b: cascade.detect_face(b, 20, *nets),
            "cascade-large": lambda b: cascade.detect_face(b, large, *nets)}
    found, cost = {}, {}
    with torch.inference_mode():
        for name, fn in runs.items():
            fn(frames[:1])  # warm up
            t, out = _cpu(), []
            for i in range(0, len(frames), BATCH):
                out += _faces(*fn(frames[i:i + BATCH]))
            cost[name] = (_cpu() - t) / len(frames) * 1000
            found[name] = out
    row = {"clip": clip.name, "size": f"{frames.shape[2]}x{frames.shape[1]}", "frames": len(frames),
           "ms_per_frame": {k: round(v, 1) for k, v in cost.items()}}
    ref = found["facenet-full"]
    for name in ("cascade-full", "cascade-large"):
        same_count = all(len(a) == len(b) for a, b in zip(ref, found[name]))
        diff = max((float(np.abs(a - b).max()) for a, b in zip(ref, found[name]) if len(a) == len(b) and len(a)),
                   default=0.0)
        # the large pyramid finds only faces of at least 1/8 of the shorter side: compare the best face
        best = max((float(np.abs(a[np.argmax(a[:, 4])] - b[np.argmax(b[:, 4])]).max())
                    for a, b in zip(ref, found[name]) if len(a) and len(b)), default=0.0)
        row[name] = {"same_face_count": same_count, "max_abs_diff": diff, "best_face_max_abs_diff": best}
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--max-frames", type=int, default=50)
    ap.add_argument("--real-dir", type=Path, default=REAL)
    ap.add_argument("--markdown", type=Path)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    if not a.real_dir.is_dir():
        print(f"skipped: real clips not found at {a.real_dir}")
        return
    import torch

    torch.set_num_threads(1)
    rows = []
    for clip in sorted(a.real_dir.glob("*.mp4")):
        rows.append(compare(clip, a.max_frames))
        r = rows[-1]
        print(f"{r['clip']:<42} {r['size']:>10} ms/frame " + " ".join(f"{k} {v}" for k, v in r["ms_per_frame"].items())
              + f" | full: same count {r['cascade-full']['same_face_count']}, max diff "
              f"{r['cascade-full']['max_abs_diff']:.2e} | large: best-face max diff "
              f"{r['cascade-large']['best_face_max_abs_diff']:.2e}", flush=True)
    tot = {k: sum(r["ms_per_frame"][k] * r["frames"] for r in rows) / 1000 for k in rows[0]["ms_per_frame"]}
    lines = ["| clip | size | frames | facenet-pytorch full ms/frame | cascade full ms/frame | cascade large "
             "(default) ms/frame | full: same faces, max diff | large: best face max diff |",
             "| --- | --- | ---: | ---: | ---: | ---: | --- | ---: |"]
    for r in rows:
        m = r["ms_per_frame"]
        lines.append(f"| {r['clip']} | {r['size']} | {r['frames']} | {m['facenet-full']} | {m['cascade-full']} | "
                     f"{m['cascade-large']} | {'yes' if r['cascade-full']['same_face_count'] else 'NO'}, "
                     f"{r['cascade-full']['max_abs_diff']:.1e} | {r['cascade-large']['best_face_max_abs_diff']:.1e} |")
    lines.append(f"\nAll clips, CPU-s of detection: facenet-pytorch full {tot['facenet-full']:.1f}, cascade full "
                 f"{tot['cascade-full']:.1f}, cascade large {tot['cascade-large']:.1f} "
                 f"({tot['facenet-full'] / tot['cascade-large']:.1f}x less than the reference).")
    text = "\n".join(lines)
    print(text)
    if a.markdown:
        a.markdown.write_text(text + "\n")
    if a.json:
        a.json.write_text(json.dumps({"rows": rows, "cpu_seconds": tot}, indent=1))


if __name__ == "__main__":
    sys.exit(main())
