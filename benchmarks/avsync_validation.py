"""Per-clip validation of the AV-sync headline on real footage: does it rank a real talking video
above a still copy of it and above copies with the audio shifted by 3-6 frames?

    .venv/bin/python benchmarks/avsync_validation.py [--max-frames 250] [--synth 3] [--json F] [--markdown F]

Why: ``avsync``'s ``mouth-envelope@1`` headline (r at offset 0) is negative on real in-sync HDTF
clips, below a still face's 0; ``mouth-envelope@2``'s ``avsync_peak`` was built to fix that, and
this script is the measurement behind it (the table in docs/avsync-lipleak.md and the README).

Every clip of ``<shared>/data/real`` with speech: the HDTF clips (``WDA_*``), video-retalking
``retalking_1..5`` (retalking_1 at 22.1 fps, retalking_4 at 30 fps, resampled to 25 fps as eadbench
reads every video), the LatentSync portrait with its own audio track and with its separate
``latentsync_demo1_audio.wav``, the MuseTalk clip (no audio track) with ``musetalk_sun.wav``; the
LivePortrait driving clips, whose audio is not known to be their speech, are listed apart and not
counted. ``--synth N`` adds N built-in synthetic talking faces (4 s, 128 px; in sync by construction).

Per clip (its first ``--max-frames`` frames at 25 fps): the mouth opening of every ``face256`` crop
is measured once (MTCNN ``mtcnn-fast`` on every 8th frame, boxes interpolated, as the tests track;
the face mesh on every frame) and scored against
* ``real``: the clip's own audio;
* ``still``: the first frame frozen for the whole clip (the face mesh of the first crop on every
  frame), with the clip's audio;
* ``shifted k``: the audio moved by k = -6..-3 and +3..+6 frames (k > 0: the audio leads; zero-filled).
* ``wrong audio``: the clip's mouth with each other counted real clip's audio (the score of a mouth
  that moves but does not follow its audio: the headline's noise floor).
Printed and written: ``avsync_peak`` and ``avsync_offset`` (``mouth-envelope@2``), ``avsync_r``
(r(0), ``mouth-envelope@1``'s headline) for the same copies, and whether real > still and
real > every shifted copy under each (a margin under ``TIE`` is marked a tie). A clip whose files
are not in the shared folder is skipped with the path it looked at (without the folder, only the
synthetic rows are measured).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np
from lse_variants import real_dir  # noqa: E402 - the shared folder's real clips, found one way

#: (row name, video file, separate audio file or None, counted: audio known to be the clip's speech)
CLIPS = [
    ("WDA_AlexandriaOcasioCortez_000", "WDA_AlexandriaOcasioCortez_000.mp4", None, True),
    ("WDA_KatieHill_000", "WDA_KatieHill_000.mp4", None, True),
    *[(f"retalking_{i}", f"retalking_{i}.mp4", None, True) for i in range(1, 6)],
    ("latentsync_demo1 (own track)", "latentsync_demo1_video.mp4", None, True),
    # LatentSync's driving audio for its dubbing demo, not the video's speech: no single lag aligns it with
    # the video's own track (docs/avsync-lipleak.md), so it is the "wrong audio" case, not counted
    ("latentsync_demo1 + demo1_audio.wav (driving audio)", "latentsync_demo1_video.mp4",
     "latentsync_demo1_audio.wav", False),
    ("musetalk_sun + sun.wav", "musetalk_sun.mp4", "musetalk_sun.wav", True),
    ("liveportrait_d11 (audio not known as speech)", "liveportrait_d11.mp4", None, False),
    ("liveportrait_d20 (audio not known as speech)", "liveportrait_d20.mp4", None, False),
]
SHIFTS = (-6, -5, -4, -3, 3, 4, 5, 6)
#: a real clip above its best shifted copy by less than this is a tie (the shifted copy's peak landed
#: inside the window; edge effects of the zero-filled audio are of this size)
TIE = 0.02
STRIDE = 8  # MTCNN on every 8th frame, boxes interpolated




def quick_crops(frames: np.ndarray) -> np.ndarray:
    """face256 crops from an MTCNN (``mtcnn-fast``) track detected on every STRIDE-th frame."""
    from eadbench import faces
    from eadbench.faces.track import Track

    part = faces.track_clip(frames[::STRIDE], protocol="mtcnn-fast")
    boxes = np.full((len(frames), 4), np.nan)
    boxes[::STRIDE] = part.boxes
    track = Track(boxes, np.full(len(frames), np.nan), np.full((len(frames), 5, 2), np.nan))
    return faces.crop_clip(frames, "face256", track).frames


def shifted(audio: np.ndarray, k: int) -> np.ndarray:
    """The audio leading the video by k frames (k < 0: lagging), the same length, zero-filled."""
    from eadbench.robustness import shift_audio

    return shift_audio(audio, -k)


def score_copies(mouth: np.ndarray, still: np.ndarray, audio: np.ndarray) -> dict:
    """Both protocols' outputs for the real, still and shifted copies of one clip."""
    from eadbench.metrics.avsync import avsync_from_series, voice_probs

    def both(m: np.ndarray, a: np.ndarray) -> dict:
        probs = voice_probs(a)
        v2 = avsync_from_series(m, a, probs=probs, version="2")
        v1 = avsync_from_series(m, a, probs=probs, version="1")
        return {"peak": v2["avsync_peak"], "offset": v2["avsync_offset"], "r0": v1["avsync_r"],
                "offset_v1": v1["avsync_offset"], "voiced_frames": v2["voiced_frames"]}

    return {"real": both(mouth, audio), "still": both(still, audio),
            "shifted": {k: both(mouth, shifted(audio, k)) for k in SHIFTS}}


def verdicts(s: dict) -> dict:
    """real > still and real > each shifted copy, under the @2 headline and under @1's r(0)."""
    out = {}
    for key in ("peak", "r0"):
        real = s["real"][key]
        beaten_by = [k for k in SHIFTS if s["shifted"][k][key] >= real]
        out[key] = {"above_still": bool(real > s["still"][key]), "above_shifted": not beaten_by,
                    "shifts_not_below": beaten_by,
                    "margin_shifted": float(real - max(s["shifted"][k][key] for k in SHIFTS)),
                    "clearly_above_shifted": bool(real - max(s["shifted"][k][key] for k in SHIFTS) >= TIE),
                    "above_shifted_5_6": all(s["shifted"][k][key] < real for k in SHIFTS if abs(k) >= 5)}
    return out


def real_rows(folder: Path, clips: list[tuple], max_frames: int, mesh) -> list[dict]:
    from eadbench import media
    from eadbench.metrics.avsync import mouth_series

    rows, series = [], []
    for name, video, side, counted in clips:
        t = time.perf_counter()
        frames = media.read_frames(folder / video, max_frames=max_frames)
        crops = quick_crops(frames)
        mouth = mouth_series(mesh, crops)
        still = np.repeat(mouth_series(mesh, crops[:1]), len(crops))
        audio = media.read_audio(folder / (side or video))[: len(frames) * 640]
        s = score_copies(mouth, still, audio)
        rows.append({"clip": name, "video": video, "audio": side or video, "counted": counted,
                     "frames": len(frames), "audio_frames": len(audio) // 640, **s, "verdict": verdicts(s),
                     "seconds": round(time.perf_counter() - t, 1)})
        series.append((mouth, audio))
        print(f"  {name}: {rows[-1]['seconds']} s", file=sys.stderr, flush=True)
    wrong_audio(rows, series)
    return rows


def wrong_audio(rows: list[dict], series: list[tuple[np.ndarray, np.ndarray]]) -> None:
    """Each counted clip's mouth scored with every other counted clip's audio (cut to the shorter of the
    two): the score of a moving mouth that does not follow its audio (``wrong_audio``: mean and max)."""
    from eadbench.metrics.avsync import avsync_from_series

    counted = [i for i, r in enumerate(rows) if r["counted"]]
    for i in counted:
        mouth = series[i][0]
        peaks, r0s = [], []
        for j in counted:
            if j == i:
                continue
            n = min(len(mouth), len(series[j][1]) // 640)
            v2 = avsync_from_series(mouth[:n], series[j][1][: n * 640])
            if v2["avsync_peak"] is not None:
                peaks.append(v2["avsync_peak"])
                r0s.append(v2["avsync_r"])
        rows[i]["wrong_audio"] = {"n": len(peaks), "peak_mean": float(np.mean(peaks)), "peak_max": float(np.max(peaks)),
                                  "r0_mean": float(np.mean(r0s)), "r0_max": float(np.max(r0s)),
                                  "peaks_not_below": int(sum(p >= rows[i]["real"]["peak"] for p in peaks))}


def synth_rows(n: int, mesh) -> list[dict]:
    from eadbench.metrics.avsync import mouth_series
    from eadbench.synth import speech
    from eadbench.synth.generate import render_clip

    rows = []
    for i in range(n):
        item = dict(speaker_index=i, emotion="neutral", level=1, levels=3,
                    sentence=speech.SENTENCES[(5 + 3 * i) % len(speech.SENTENCES)])
        frames, audio, _ = render_clip(item, 4.0, 128, 0)
        crops = quick_crops(frames)
        mouth = mouth_series(mesh, crops)
        still = np.repeat(mouth_series(mesh, crops[:1]), len(crops))
        s = score_copies(mouth, still, np.asarray(audio, dtype=np.float32))
        rows.append({"clip": f"synth speaker {i}", "video": "built-in synth", "audio": "its own", "counted": True,
                     "frames": len(frames), "audio_frames": len(audio) // 640, **s, "verdict": verdicts(s)})
    return rows


def _f(x) -> str:
    return "–" if x is None else f"{x:+.3f}" if isinstance(x, float) else str(x)


def _wrong(r: dict) -> str:
    w = r.get("wrong_audio")
    return "–" if not w else f"{w['peak_mean']:.3f} / {w['peak_max']:.3f} ({w['peaks_not_below']}/{w['n']})"


def markdown(rows: list[dict]) -> str:
    head = ("| clip | frames | peak (real) | offset | still | peak, audio shifted "
            "-6 / -5 / -4 / -3 / +3 / +4 / +5 / +6 "
            "| real > still | real > shifted (margin) | wrong audio: mean / max (not below real) "
            "| r(0) @1: real / still / max shifted |\n|---|---|---|---|---|---|---|---|---|---|\n")
    lines = []
    for r in rows:
        v = r["verdict"]["peak"]
        sh = " / ".join(f"{r['shifted'][k]['peak']:.3f}" for k in SHIFTS)
        above = "yes" if v["above_shifted"] else "no: " + ", ".join(f"{k:+d}" for k in v["shifts_not_below"])
        above += f" ({v['margin_shifted']:+.3f}{', tie' if abs(v['margin_shifted']) < TIE else ''})"
        lines.append(f"| {r['clip']} | {r['frames']} | {r['real']['peak']:.3f} | {r['real']['offset']:+d} | "
                     f"{r['still']['peak']:.3f} | {sh} | {'yes' if v['above_still'] else 'no'} | {above} | "
                     f"{_wrong(r)} | "
                     f"{_f(r['real']['r0'])} / {_f(r['still']['r0'])} / "
                     f"{_f(max(r['shifted'][k]['r0'] for k in SHIFTS))} |")
    counted = [r for r in rows if r["counted"]]
    foot = ""
    for what, group in (("real clips", [r for r in counted if r["video"] != "built-in synth"]),
                        ("synthetic clips", [r for r in counted if r["video"] == "built-in synth"])):
        if not group:
            continue
        n = len(group)
        t = {key: [sum(r["verdict"][key][f] for r in group) for f in
                   ("above_still", "above_shifted", "clearly_above_shifted", "above_shifted_5_6")]
             for key in ("peak", "r0")}
        foot += (f"\n{what.capitalize()} counted (audio known to be the clip's speech): {n}. `avsync_peak` (@2): "
                 f"real > still {t['peak'][0]}/{n}, real > every shifted copy {t['peak'][1]}/{n} (by at least "
                 f"{TIE}: {t['peak'][2]}/{n}), real > the 5-6-frame shifts {t['peak'][3]}/{n}. r(0) (@1): "
                 f"{t['r0'][0]}/{n}, {t['r0'][1]}/{n} ({t['r0'][2]}/{n}), {t['r0'][3]}/{n}.\n")
    return head + "\n".join(lines) + "\n" + foot


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--max-frames", type=int, default=250, help="frames read per clip (25 fps)")
    ap.add_argument("--synth", type=int, default=3, help="built-in synthetic clips to add (0: none)")
    ap.add_argument("--json", type=Path, help="write every number here")
    ap.add_argument("--markdown", type=Path, help="write the table here")
    args = ap.parse_args(argv)
    folder = real_dir()
    clips = [c for c in CLIPS if all((folder / f).exists() for f in c[1:3] if f)]
    for name, video, side, _ in (c for c in CLIPS if c not in clips):
        absent = ", ".join(f for f in (video, side) if f and not (folder / f).exists())
        print(f"skipped {name}: {absent} not in {folder} (set EADBENCH_SHARED to the shared folder)", file=sys.stderr)
    import torch

    from eadbench.nets.face_mesh import face_mesh

    torch.set_num_threads(1)  # MTCNN's many small convolutions: faster on one thread of a busy machine
    mesh = face_mesh()
    rows = real_rows(folder, clips, args.max_frames, mesh) + synth_rows(args.synth, mesh)
    table = markdown(rows)
    print(table)
    if args.markdown:
        args.markdown.write_text(table)
    if args.json:
        args.json.write_text(json.dumps({"max_frames": args.max_frames, "shifts": list(SHIFTS), "rows": rows},
                                        indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
