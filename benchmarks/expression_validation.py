"""Validation of the expression metrics (``expfid``, protocol ``action-frechet@1``; ``blinkbrow``,
``blink-brow@1``) on real footage and on the built-in synthetic faces.

    .venv/bin/python benchmarks/expression_validation.py [--max-frames 250] [--crf 28] [--json F]

Why: ``blinkbrow`` must give the ideal value for the real clip, clearly worse values for a still
frame and for copies whose eyes and brows are frozen, and must move less under a harmless
re-encoding than under those; ``expfid`` must separate expressions from neutral (more than it
separates two neutral stretches of speech, and more than a re-encoding moves it). This script is
the measurement behind the README's numbers.

Real clips: every talking clip of ``<shared>/data/real`` (HDTF, video-retalking, LivePortrait,
LatentSync, MuseTalk, the eight MEAD W011 clips), their first ``--max-frames`` frames at 25 fps,
tracked the tests' quick way (MTCNN on every 8th frame, boxes interpolated, ``face256`` crops).
Copies, each scored against the real crops:

* ``real``: the real crops themselves (ideal: gap 0, brow energy 1);
* ``static``: the first crop on every frame;
* ``frozen``: ``tests.helpers.faces.frozen_head`` (the first crop, each frame's mouth window pasted in);
* ``upper``: ``tests.helpers.faces.frozen_upper`` (each frame, with the first crop's eyes and brows);
* ``reencoded``: the real crops through H.264 at ``--crf`` (libx264, yuv420p), read back.

Expression distance on MEAD W011 (one speaker, level-3 emotions, a level-1 neutral clip): each
emotion clip against the neutral clip; controls: the neutral clip's second half against its first
half (the same expression, other speech), the re-encoded and the still neutral clip against it.
On the built-in synthetic faces (``eadbench.synth``, 4 speakers, 3 s, level 3 of 3): the real set
is every speaker's neutral clip of one sentence; each emotion's set is another sentence spoken and
shown in that emotion; the control is that other sentence in neutral, and the re-encoded real set.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CLIPS = ("WDA_AlexandriaOcasioCortez_000", "WDA_KatieHill_000", "retalking_1", "retalking_2", "retalking_3",
         "retalking_4", "retalking_5", "liveportrait_d11", "liveportrait_d20", "latentsync_demo1_video",
         "musetalk_sun")
MEAD = "mead_W011_front_{}_level3_001"
NEUTRAL = "mead_W011_front_neutral_level1_001"
EMOTIONS = ("angry", "contempt", "disgusted", "fear", "happy", "sad", "surprised")
COPIES = ("real", "static", "frozen", "upper", "reencoded")
SYNTH_SPEAKERS, SYNTH_SECONDS = 4, 3.0


def copies(crops: np.ndarray, crf: int) -> dict[str, np.ndarray]:
    from tests.helpers.faces import frozen_head, frozen_upper, reencoded

    return {"real": crops, "static": np.repeat(crops[:1], len(crops), axis=0), "frozen": frozen_head(crops),
            "upper": frozen_upper(crops), "reencoded": reencoded(crops, crf)}


def read(v: np.ndarray, mesh, eyes) -> dict:
    """Mesh landmarks and eye openings of one crop video."""
    marks = mesh.series(v)
    return {"marks": marks, "eyes": eyes.series(v, marks)}


def blinkbrow_rows(clips: dict[str, dict[str, dict]]) -> dict:
    from eadbench.metrics.blinkbrow import blinkbrow_from_series

    rows = {}
    for clip, m in clips.items():
        r = m["real"]
        rows[clip] = {k: blinkbrow_from_series(m[k]["eyes"], r["eyes"], m[k]["marks"], r["marks"]) for k in COPIES}
        assert rows[clip]["real"]["blinkbrow_gap"] == 0.0 and rows[clip]["real"]["brow_energy"] == 1.0
    return rows


def expfid_table(real: list[dict], sets: dict[str, list[dict]]) -> dict[str, float]:
    from eadbench.metrics.expfid import expfid_features, expfid_from_features

    ref = np.concatenate([expfid_features(v["marks"]) for v in real])
    return {k: expfid_from_features(np.concatenate([expfid_features(v["marks"]) for v in vs]), ref)
            for k, vs in sets.items()}


def synth_sets(crf: int, mesh, eyes) -> tuple[list[dict], dict[str, list[dict]], dict]:
    """(the real set: neutral sentence 0; name -> set; blinkbrow rows of the synthetic real clips)."""
    from eadbench.synth import speech
    from eadbench.synth.generate import render_clip
    from tests.helpers.faces import fast_crops

    real, sets, per_clip = [], {k: [] for k in ("neutral (other sentence)", "re-encoded", *EMOTIONS)}, {}
    for s in range(SYNTH_SPEAKERS):
        def crops(emotion: str, sentence: int) -> np.ndarray:
            item = dict(speaker_index=s, emotion=emotion, level=3, levels=3, sentence=speech.SENTENCES[sentence])
            return fast_crops(render_clip(item, SYNTH_SECONDS, 256, 0)[0])

        base = crops("neutral", 0)
        cps = {k: read(v, mesh, eyes) for k, v in copies(base, crf).items()}
        per_clip[f"synth speaker {s}"] = cps
        real.append(cps["real"])
        sets["re-encoded"].append(cps["reencoded"])
        sets["neutral (other sentence)"].append(read(crops("neutral", 1), mesh, eyes))
        for e in EMOTIONS:
            sets[e].append(read(crops(e, 1), mesh, eyes))
    return real, sets, blinkbrow_rows(per_clip)


def main(argv: list[str] | None = None) -> int:
    import torch

    from eadbench import media
    from eadbench.nets.eye_contour import eye_contour
    from eadbench.nets.face_mesh import face_mesh
    from tests.helpers.faces import fast_crops
    from tests.helpers.shared_data import real_data

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-frames", type=int, default=250)
    ap.add_argument("--crf", type=int, default=28)
    ap.add_argument("--no-synth", action="store_true")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    mesh, eyes = face_mesh(), eye_contour()
    clips: dict[str, dict] = {}
    for clip in CLIPS + tuple(MEAD.format(e) for e in EMOTIONS) + (NEUTRAL,):
        path = real_data() / f"{clip}.mp4"
        if not path.exists():
            print(f"{clip}: skipped, {path} not found")
            continue
        crops = fast_crops(media.read_frames(path, max_frames=args.max_frames))
        clips[clip] = {k: read(v, mesh, eyes) for k, v in copies(crops, args.crf).items()}
    out: dict = {"settings": {k: str(v) for k, v in vars(args).items()}}
    if clips:
        rows = blinkbrow_rows(clips)
        out["blinkbrow_real"] = rows
        print(f"{'clip':34} {'blinks/min':>10} " + " ".join(f"{k + ' gap (blinks)':>22}" for k in COPIES[1:])
              + "   brow energy " + "/".join(COPIES[1:]))
        for clip, r in rows.items():
            print(f"{clip:34} {r['real']['blink_rate_real']:>10.1f} "
                  + " ".join(f"{r[k]['blinkbrow_gap']:>17.3f} ({r[k]['blinks']})" for k in COPIES[1:])
                  + "   " + "/".join(f"{r[k]['brow_energy']:.2f}" for k in COPIES[1:]))
        means = {k: {o: float(np.mean([r[k][o] for r in rows.values() if r[k][o] is not None] or [np.nan]))
                     for o in ("blinkbrow_gap", "blink_gap", "brow_gap", "brow_energy")} for k in COPIES}
        out["blinkbrow_real_means"] = means
        print("mean over clips: " + "; ".join(f"{k} gap {means[k]['blinkbrow_gap']:.3f} brow energy "
                                              f"{means[k]['brow_energy']:.2f}" for k in COPIES))
    if NEUTRAL in clips:
        neutral = clips[NEUTRAL]["real"]
        half = len(neutral["marks"]) // 2
        first = {"marks": neutral["marks"][:half]}
        sets = {"neutral, second half": [{"marks": neutral["marks"][half:]}],
                "re-encoded neutral": [clips[NEUTRAL]["reencoded"]], "still neutral": [clips[NEUTRAL]["static"]]}
        sets |= {e: [clips[MEAD.format(e)]["real"]] for e in EMOTIONS if MEAD.format(e) in clips}
        ref = expfid_table([neutral], {k: v for k, v in sets.items() if k != "neutral, second half"})
        halves = expfid_table([first], {"h": sets["neutral, second half"]})["h"]
        ref["neutral, second half (vs the first half)"] = halves
        out["expfid_mead"] = ref
        print("expfid vs MEAD W011 neutral: " + "; ".join(f"{k} {v:.2f}" for k, v in ref.items()))
    if not args.no_synth:
        real, sets, rows = synth_sets(args.crf, mesh, eyes)
        fd = expfid_table(real, sets)
        out["expfid_synth"], out["blinkbrow_synth"] = fd, rows
        print("expfid vs the synthetic neutral set: " + "; ".join(f"{k} {v:.2f}" for k, v in fd.items()))
        for clip, r in rows.items():
            print(f"{clip}: " + "; ".join(f"{k} gap {r[k]['blinkbrow_gap']:.3f} brow energy {r[k]['brow_energy']:.2f}"
                                          for k in COPIES))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
