"""How far the fast tracking protocol moves boxes and metrics from every-frame, full-resolution
detection, on the real clips of ``../shared/data/real``.

    .venv/bin/python benchmarks/tracking_compare.py [--protocols mtcnn-full,mtcnn-fast] [--expert sync.pt]

For each clip (at 25 fps) the face is tracked with each protocol; printed per clip and on
average: detection seconds per frame, box differences (centre and half-size, in % of the
half-size), and the differences of what the metrics compute from the crops: SSIM between the
two protocols' face256 crops, M-LMD of a static copy of the clip against the clip, the emotion
classifier's mean probabilities (L1) and label, and LSE-C/LSE-D/offset (with ``--expert``, a
sync expert from `eadbench syncnet train`; skipped without one). The first protocol is the
reference. ``--json FILE`` writes everything.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
CLIPS = ["WDA_AlexandriaOcasioCortez_000.mp4", "WDA_KatieHill_000.mp4", "retalking_1.mp4", "retalking_2.mp4",
         "retalking_3.mp4", "retalking_4.mp4", "retalking_5.mp4", "liveportrait_d11.mp4", "liveportrait_d20.mp4",
         "latentsync_demo1_video.mp4", "musetalk_sun.mp4", "mead_W011_front_angry_level3_001.mp4",
         "mead_W011_front_happy_level3_001.mp4", "mead_W011_front_sad_level3_001.mp4"]
AUDIO = {"latentsync_demo1_video.mp4": "latentsync_demo1_audio.wav", "musetalk_sun.mp4": "musetalk_sun.wav"}


def track(frames: np.ndarray, protocol: str, store) -> tuple[np.ndarray, float, str | None]:
    from eadbench.faces.track import StreamTracker

    tr = StreamTracker(protocol, store, buffer_bytes=1 << 40)
    t = time.perf_counter()
    out = []
    for f in frames:
        out += tr.push(f)
    out += tr.finish()
    return np.stack([g for _, _, g in out]), time.perf_counter() - t, tr.failure


def crops(frames: np.ndarray, geo: np.ndarray, protocol: str) -> np.ndarray:
    from eadbench.faces import CROP_PROTOCOLS

    p = CROP_PROTOCOLS.get(protocol)
    return np.stack([p.crop(f, *g) for f, g in zip(frames, geo)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--real-dir", type=Path, default=REAL)
    ap.add_argument("--protocols", default="mtcnn-full,mtcnn-fast")
    ap.add_argument("--expert", type=Path, help="sync expert for LSE (eadbench syncnet train)")
    ap.add_argument("--max-frames", type=int, default=250)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    import torch

    from eadbench import media
    from eadbench.metrics.lmd import lmd_from_landmarks
    from eadbench.metrics.lse import lse_features
    from eadbench.metrics.ssim import ssim_frames
    from eadbench.nets import emotion
    from eadbench.nets.face_mesh import face_mesh
    from eadbench.nets.syncnet import load_expert, lse_from_features
    from eadbench.weights import WeightStore

    torch.set_num_threads(2)
    store = WeightStore(device="cpu")
    protos = a.protocols.split(",")
    clf = emotion.build("fer", store)
    mesh = face_mesh(store)
    expert = load_expert(a.expert) if a.expert else None
    rows = []
    for name in CLIPS:
        path = a.real_dir / name
        if not path.exists():
            continue
        frames = media.read_frames(path, max_frames=a.max_frames)
        audio = None
        try:
            audio = media.read_audio(a.real_dir / AUDIO.get(name, name))
        except Exception:  # noqa: BLE001 - silent clips: no LSE
            audio = None
        per = {}
        for p in protos:
            geo, secs, fail = track(frames, p, store)
            c256, csync = crops(frames, geo, "face256"), crops(frames, geo, "syncnet")
            static = np.repeat(c256[:1], len(c256), axis=0)
            probs = clf.probs(c256[:, 36:220, 36:220])
            pred, mean = emotion.video_prediction(probs, clf)
            entry = {"seconds_per_frame": secs / len(frames), "failure": fail, "geo": geo,
                     "lmd_static": lmd_from_landmarks(mesh.clip(static), mesh.clip(c256))["lmd"],
                     "emotion_pred": pred, "emotion_probs": np.array([mean[k] for k in sorted(mean)]), "c256": c256}
            if expert is not None and audio is not None:
                entry.update(lse_from_features(*lse_features(expert, csync, audio)))
            per[p] = entry
        ref = per[protos[0]]
        for p in protos[1:]:
            e = per[p]
            s = ref["geo"][:, 2]
            row = {"clip": name, "frames": len(frames), "size": f"{frames.shape[2]}x{frames.shape[1]}",
                   "protocol": p, "sec_per_frame_ref": ref["seconds_per_frame"],
                   "sec_per_frame": e["seconds_per_frame"],
                   "centre_diff_pct_mean": float(np.mean(np.hypot(*(e["geo"][:, :2] - ref["geo"][:, :2]).T) / s) * 100),
                   "centre_diff_pct_max": float(np.max(np.hypot(*(e["geo"][:, :2] - ref["geo"][:, :2]).T) / s) * 100),
                   "size_diff_pct_mean": float(np.mean(np.abs(e["geo"][:, 2] - s) / s) * 100),
                   "crop_ssim": float(ssim_frames(e["c256"], ref["c256"]).mean()),
                   "lmd_static_ref": ref["lmd_static"], "lmd_static": e["lmd_static"],
                   "emotion_same": e["emotion_pred"] == ref["emotion_pred"],
                   "emotion_probs_l1": float(np.abs(e["emotion_probs"] - ref["emotion_probs"]).sum())}
            if "lse_c" in e:
                row.update({f"{k}_ref": ref[k] for k in ("lse_c", "lse_d", "av_offset")})
                row.update({k: e[k] for k in ("lse_c", "lse_d", "av_offset")})
            rows.append(row)
            print(f"{name:<40} {row['size']:>10} {p}: {row['sec_per_frame_ref'] * 1000:6.1f} -> "
                  f"{row['sec_per_frame'] * 1000:6.1f} ms/frame; centre {row['centre_diff_pct_mean']:.2f}% "
                  f"(max {row['centre_diff_pct_max']:.2f}%), size {row['size_diff_pct_mean']:.2f}%; crop SSIM "
                  f"{row['crop_ssim']:.4f}; M-LMD {row['lmd_static_ref']:.3f} -> {row['lmd_static']:.3f}; emotion "
                  f"{'same' if row['emotion_same'] else 'DIFFERENT'} (L1 {row['emotion_probs_l1']:.4f})"
                  + (f"; LSE-C {row['lse_c_ref']:.3f} -> {row['lse_c']:.3f}, LSE-D {row['lse_d_ref']:.3f} -> "
                     f"{row['lse_d']:.3f}, offset {row['av_offset_ref']:+.0f} -> {row['av_offset']:+.0f}"
                     if "lse_c" in row else ""), flush=True)
    if rows:
        keys = ["sec_per_frame_ref", "sec_per_frame", "centre_diff_pct_mean", "size_diff_pct_mean", "crop_ssim",
                "emotion_probs_l1"]
        print("mean over clips: " + ", ".join(f"{k} {np.mean([r[k] for r in rows]):.4g}" for k in keys))
        print(f"emotion label unchanged on {sum(r['emotion_same'] for r in rows)}/{len(rows)} clips; mean |dM-LMD| "
              f"{np.mean([abs(r['lmd_static'] - r['lmd_static_ref']) for r in rows]):.4f}")
        lse = [r for r in rows if "lse_c" in r]
        if lse:
            d_c = np.mean([abs(r['lse_c'] - r['lse_c_ref']) for r in lse])
            print(f"LSE on {len(lse)} clips: mean |dLSE-C| {d_c:.4f}, "
                  f"mean |dLSE-D| {np.mean([abs(r['lse_d'] - r['lse_d_ref']) for r in lse]):.4f}, offset unchanged on "
                  f"{sum(r['av_offset'] == r['av_offset_ref'] for r in lse)}/{len(lse)}")
    if a.json:
        a.json.write_text(json.dumps(rows, indent=2, default=float))


if __name__ == "__main__":
    main()
