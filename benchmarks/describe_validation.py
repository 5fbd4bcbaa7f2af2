"""Do the measured facial actions move the FACS way on real faces? (the table in docs/describe.md)

Takes the real MEAD W011 clips (one per emotion, neutral at level 1, the others at level 3) from
the shared data folder, crops them with the ``face256`` protocol (MTCNN track, as `eadbench
prepare` does), measures every action per frame (``eadbench.faces.actions``) and prints, per
emotion and expected action, the change of the clip median against the neutral clip with a 95%
block-bootstrap interval, the expected sign and the verdict; then the ``face`` describer's
sentence for each clip.

    .venv/bin/python benchmarks/describe_validation.py [--real DIR] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path

MEAD_FILE = re.compile(r"mead_(?P<speaker>\w+?)_front_(?P<emotion>[a-z]+)_level(?P<level>\d)_\d+\.mp4$")


def default_real() -> Path:
    env = os.environ.get("EADBENCH_SHARED")
    beside = Path(__file__).resolve().parents[1].parent / "shared"
    root = Path(env) if env else beside if beside.exists() else Path("/work/shared")
    return root / "data" / "real"


def prepare_real(real: Path, work: Path) -> Path:
    """Prepared-clip folders (``crops/face256.mp4`` + ``meta.json``) for the real MEAD files."""
    from eadbench import faces, media

    for f in sorted(real.glob("mead_*_front_*.mp4")):
        m = MEAD_FILE.search(f.name)
        if not m:
            continue
        d = work / f.stem
        if (d / "meta.json").exists():
            continue
        crops = faces.crop_clip(media.read_frames(f), "face256").frames
        media.write_video(d / "crops" / "face256.mp4", crops)
        clip = {"clip_id": f.stem, "speaker": m["speaker"], "emotion": m["emotion"],
                "intensity": int(m["level"]), "intensity_levels": 3}
        (d / "meta.json").write_text(json.dumps({"clip": clip, "crops": {"face256": {}}}))
    return work


def table(work: Path) -> tuple[str, list[dict]]:
    from eadbench.faces import actions
    from eadbench.media import read_frames

    series = {}
    for meta in sorted(work.glob("*/meta.json")):
        clip = json.loads(meta.read_text())["clip"]
        series[clip["emotion"]] = actions.measure_crops(read_frames(meta.parent / "crops" / "face256.mp4"))
    rows = []
    lines = ["| emotion | action (FACS) | expected | Δ vs neutral (IOD) | 95% interval | verdict |",
             "|---|---|---|---:|---|---|"]
    for emotion, expected in actions.EXPECTED.items():
        if emotion not in series or "neutral" not in series:
            continue
        res = actions.compare_to_neutral(series[emotion], series["neutral"])
        for name, sign in expected.items():
            r = res[name]
            v = actions.verdict(r, sign)
            a = actions.ACTION_BY_NAME[name]
            rows.append({"emotion": emotion, "action": name, "expected": sign, **r, "verdict": v})
            exp = "size up" if name == "lip_corner_asymmetry" else ("+" if sign > 0 else "−")
            lines.append(f"| {emotion} | {name} ({a.facs}) | {exp} | {r['delta']:+.3f} | "
                         f"[{r['lo']:+.3f}, {r['hi']:+.3f}] | {v} |")
    return "\n".join(lines) + "\n", rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--real", type=Path, default=default_real())
    ap.add_argument("--work", type=Path, default=Path("runs/describe-validation"))
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    if not any(args.real.glob("mead_*_front_*.mp4")):
        raise SystemExit(f"no real MEAD clips in {args.real} (set EADBENCH_SHARED or --real)")
    work = prepare_real(args.real, args.work)
    text, rows = table(work)
    print(text)
    from eadnet.describe import FaceDescriber, describe_prepared

    rep = describe_prepared(work, FaceDescriber(), progress=False)
    for clip_id, t in sorted(rep.texts.items()):
        print(f"| {clip_id} | {t} |")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "texts": rep.texts}, indent=1))


if __name__ == "__main__":
    main()
