"""Has the tiny EAD-Net learnt its emotion condition? Train it with a recipe on the built-in
training split (the default run's data, sync expert and recipe, plus ``--set`` overrides), then
measure what issue 16 asks of the default run's EAD-Net:

- the emotion probe (``eadbench eadnet probe emotion``): text effect, intensity effect and
  shift (the fraction of the real expression change that switching the text reproduces);
- the lip-sync probe (offset references): margin r(own audio) - r(other audio);
- ``eadbench run --dataset synth --source neutral --syncnet auto`` with ground_truth, eadnet,
  static and shifted: Acc_emo (fer; contempt excluded) and LSE-C/LSE-D with the built-in expert;
- training seconds per step, wall and CPU (the machine may be shared: the CPU time and the load
  average are printed beside the wall time).

    .venv/bin/python benchmarks/eadnet_emotion.py --steps 300 --set ref_other_clip=1 --set ref_clip=neutral \\
        [--builtin] [--checkpoint F] [--infer-steps 4] [--guidance 1.0] [--probe-speakers N] [--no-run] \\
        [--work DIR] [--json F]

``--builtin`` takes the steps and recipe of ``eadbench.run.builtin`` (what the default run
trains); ``--set`` values are YAML scalars (``1``, ``true``, ``neutral``). ``--renders`` trains on the
counterfactual renders (every training clip in every emotion; for ``--set ref_clip=twin``).
``--direct`` (with ``--checkpoint``) asks the model directly: the neutral render of one training
utterance regenerated with the happy, sad and surprised texts, at guidance 1 and 3, against how
far the real renders of those emotions are from the neutral one (lower face, 0-255 levels).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import time
from pathlib import Path

import yaml


def parse_sets(items: list[str]) -> dict:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SystemExit(f"--set expects KEY=VALUE, got {item!r}")
        out[key.strip()] = yaml.safe_load(value)
    return out


def step_seconds(metrics_csv: Path) -> float:
    """Median wall seconds per step after the first 5 (warm-up) from the trainer's metrics.csv."""
    import numpy as np

    rows = list(csv.DictReader(metrics_csv.open()))
    t = np.array([float(r["seconds"]) for r in rows])
    d = np.diff(t)[5:] if len(t) > 7 else np.diff(t)
    return float(np.median(d)) if len(d) else float("nan")


def subset(data: Path, speakers: int, dest: Path) -> Path:
    """A prepared folder with the clips of the first ``speakers`` speakers (symbolic links)."""
    from eadbench.prepare import iter_prepared

    clips = list(iter_prepared(data))
    keep = sorted({str(c.meta["clip"].get("speaker")) for c in clips})[:speakers]
    dest.mkdir(parents=True, exist_ok=True)
    for c in clips:
        if str(c.meta["clip"].get("speaker")) in keep and not (dest / c.clip_id).exists():
            os.symlink(c.dir, dest / c.clip_id)
    return dest


def direct_check(ckpt: Path, renders: Path, speaker: str = "M005", utterance: str = "001", frames: int = 24) -> list:
    """The neutral render of one utterance regenerated with other emotions' texts: how much the
    lower face moves (text effect) and towards what (shift onto the real renders' difference)."""
    from eadnet.data import clip_condition, frames_to_tensor
    from eadnet.inference import EADNetPipeline

    from eadbench import media
    from eadbench.prepare import iter_prepared

    pipe = EADNetPipeline.from_checkpoint(ckpt, device="cpu")
    by = {p.meta["clip"]["emotion"]: p for p in iter_prepared(renders)
          if p.meta["clip"]["speaker"] == speaker and Path(p.meta["clip"]["video"]).stem == utterance}
    neutral = by["neutral"]
    crops = frames_to_tensor(media.read_frames(neutral.crops["face256"])[:frames], pipe.cfg.size)
    audio = media.read_audio(neutral.audio)
    lower = slice(pipe.cfg.size // 2, None)
    out = []
    for emotion in ("happy", "sad", "surprised"):
        real = frames_to_tensor(media.read_frames(by[emotion].crops["face256"])[:frames], pipe.cfg.size)
        text, intensity = clip_condition(by[emotion])
        real_diff = (real - crops)[..., lower, :].mean(1)
        for guidance in (1.0, 3.0):
            gen = {t: pipe.generate_crops(crops, audio, t, intensity, steps=4, guidance=guidance)
                   for t in (clip_condition(neutral)[0], text)}
            moved = (gen[text] - gen[clip_condition(neutral)[0]])[..., lower, :]
            row = {"emotion": emotion, "guidance": guidance,
                   "real_difference": round(float((real - crops)[..., lower, :].abs().mean()) * 127.5, 2),
                   "text_effect": round(float(moved.abs().mean()) * 127.5, 3),
                   "shift": round(float((moved.mean(1) * real_diff).sum() / (real_diff * real_diff).sum()), 4)}
            print(f"direct: {emotion} guidance {guidance}: text effect {row['text_effect']} levels "
                  f"(real renders differ by {row['real_difference']}), shift {row['shift']:+.4f}")
            out.append(row)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=None, help="training steps (default: the built-in run's)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="EADNetConfig override on top of the built-in recipe (repeatable)")
    ap.add_argument("--builtin", action="store_true", help="train exactly what the default run trains")
    ap.add_argument("--checkpoint", type=Path, help="measure this checkpoint instead of training one")
    ap.add_argument("--renders", action="store_true",
                    help="train on the training clips rendered in every emotion (the counterfactual renders, "
                         "for ref_clip=twin) instead of the training split as recorded")
    ap.add_argument("--expert", default=None,
                    help="the face256 sync expert for the sync loss (default: train the built-in recipe's; "
                         "builtin:face256 is the shipped one)")
    ap.add_argument("--infer-steps", type=int, default=None, help="DDIM steps in the run (default: built-in)")
    ap.add_argument("--guidance", type=float, default=None, help="guidance in the run (default: built-in)")
    ap.add_argument("--probe-speakers", type=int, default=0,
                    help="probe only the first N training speakers' clips (0: all, as the CLI probe)")
    ap.add_argument("--no-probe", action="store_true", help="skip both probes")
    ap.add_argument("--direct", action="store_true", help="the direct text check on the renders (see above)")
    ap.add_argument("--no-run", action="store_true", help="skip the benchmark run (Acc_emo, LSE)")
    ap.add_argument("--work", type=Path, default=Path("runs/eadnet-emotion"), help="working folder")
    ap.add_argument("--json", type=Path, help="also write the result here")
    a = ap.parse_args()

    import torch
    from eadnet.config import EADNetConfig
    from eadnet.inference import EADNetPipeline
    from eadnet.probe import emotion_probe, lipsync_probe
    from eadnet.train import train

    import eadbench
    from eadbench.config import MethodSpec, RunConfig
    from eadbench.run import builtin

    run_cfg = RunConfig(dataset="synth", quiet=True)
    data = builtin._prepared_train(run_cfg, ("face256",), progress=False)
    recipe = {**builtin.EADNET_RECIPE, **parse_sets(a.set)}
    steps = a.steps or builtin.EADNET_STEPS
    if a.builtin and (a.set or a.steps):
        raise SystemExit("--builtin trains the default run's recipe: drop --set and --steps")
    res: dict = {"recipe": recipe, "steps": steps, "threads": torch.get_num_threads()}
    ckpt = a.checkpoint
    if ckpt is None:
        expert = a.expert or builtin.sync_expert(run_cfg, "face256", echo=print, progress=False)
        train_data = builtin._prepared_renders(run_cfg, ("face256",), progress=False) if a.renders else data
        res["train_data"] = str(train_data)
        out = a.work / "eadnet"
        cfg = EADNetConfig.preset_config("tiny", **recipe, syncnet_path=str(expert), checkpoint_every=steps)
        res["load_before"] = round(os.getloadavg()[0], 1)
        wall, cpu = time.perf_counter(), time.process_time()
        train(cfg, train_data, out, steps, progress=False, device="cpu")
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        res.update(train_s=round(wall, 1), train_cpu_s=round(cpu, 1),
                   s_per_step=round(step_seconds(out / "metrics.csv"), 3),
                   cpu_s_per_step=round(cpu / steps, 3), load_after=round(os.getloadavg()[0], 1))
        print(f"trained {steps} steps in {wall:.0f} s: {res['s_per_step']} s/step wall (median), "
              f"{res['cpu_s_per_step']} CPU s/step, {res['threads']} threads, load {res['load_before']} -> "
              f"{res['load_after']}")
        ckpt = out / "checkpoint.pt"
    res["checkpoint"] = str(ckpt)
    if a.direct:
        res["direct"] = direct_check(ckpt, builtin._prepared_renders(run_cfg, ("face256",), progress=False))
    if not a.no_probe:
        pipe = EADNetPipeline.from_checkpoint(ckpt, device="cpu")
        pdata = subset(data, a.probe_speakers, a.work / f"probe-{a.probe_speakers}") if a.probe_speakers else data
        t = time.perf_counter()
        e = emotion_probe(pipe, pdata)
        res["emotion_probe"] = {**e.to_dict(), "seconds": round(time.perf_counter() - t, 1)}
        print(f"emotion probe: text effect {e.effect:.2f}, intensity effect {e.intensity_effect:.2f} levels, "
              f"shift {e.shift:+.3f} ({len(e.per_clip)} clips)")
        t = time.perf_counter()
        p = lipsync_probe(pipe, pdata, reference="offset")
        res["lipsync_probe"] = {**p.to_dict(), "seconds": round(time.perf_counter() - t, 1)}
        print(f"lip-sync probe: r(own) {p.mean('own'):+.3f}, r(other) {p.mean('other'):+.3f}, "
              f"margin {p.margin:+.3f}")
    if not a.no_run:
        ckpt_cfg = EADNetConfig.from_dict(torch.load(ckpt, map_location="cpu", weights_only=True)["config"])
        options = {"checkpoint": str(ckpt), "steps": a.infer_steps or builtin.EADNET_INFER_STEPS,
                   "guidance": 1.0 if a.guidance is None else a.guidance}
        methods = [MethodSpec.parse("ground_truth"), MethodSpec("eadnet", "eadnet", options),
                   MethodSpec.parse("static"), MethodSpec.parse("shifted")]
        t = time.perf_counter()
        out = eadbench.run(dataset="synth", methods=methods, metrics=["emotion", "lse"], source="neutral",
                           out=str(a.work / "run"), quiet=True, resume=False, echo=lambda *_: None,
                           metric_options={"lse": {"syncnet_path": "auto"}})
        res["run_s"] = round(time.perf_counter() - t, 1)
        res["run"] = {}
        for label, m in out.summary["methods"].items():
            row = {"acc_emo": m["emotion"]["acc_emo"]["value"]}
            lse = next(v for k, v in m.items() if k.startswith("lse"))
            row.update({k: v["value"] for k, v in lse.items() if k in ("lse_c", "lse_d")})
            res["run"][label] = row
        ranked = sorted(res["run"], key=lambda k: -res["run"][k].get("lse_c", float("-inf")))
        res["lse_c_rank"] = ranked
        res["infer"] = {**options, "guidance_config": ckpt_cfg.guidance}
        for label, row in res["run"].items():
            print(f"{label:13s} Acc_emo {row['acc_emo']:.3f}  LSE-C {row.get('lse_c', float('nan')):.3f}  "
                  f"LSE-D {row.get('lse_d', float('nan')):.3f}")
        gap = res["run"]["eadnet"]["acc_emo"] - res["run"]["static"]["acc_emo"]
        print(f"Acc_emo eadnet - static: {100 * gap:+.1f} points (--source neutral); LSE-C order: {' > '.join(ranked)}")
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
