"""Does the tiny EAD-Net follow its audio and its emotion text? Train it on the synthetic
training split (optionally with the sync loss, whose face256 expert is trained first on the same
clips, and with references from the speaker's other emotion), then run both probes of
``eadnet.probe`` on those clips.

    .venv/bin/python benchmarks/eadnet_probes.py --steps 300 [--sync 0.02] [--ref-other-clip 0.5] [--checkpoint F]

Lip-sync, under both reference modes: the generated and real mouth brightness correlated frame by
frame; margin = r(own audio) - r(other audio). With ``reference: self`` a model can also score by
copying the mouth it sees in its reference frames. Emotion: with references of the other emotion,
how much switching the text changes the lower face (effect, levels) and which fraction of the
real expression difference that change reproduces (shift).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=300, help="EAD-Net training steps")
    ap.add_argument("--sync", type=float, default=0.0, help="sync-loss weight (0: noise loss only)")
    ap.add_argument("--ref-other-clip", type=float, default=0.0,
                    help="share of training references taken from the speaker's clip of another emotion")
    ap.add_argument("--expert-steps", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0, help="seed of the expert and of EAD-Net's training")
    ap.add_argument("--checkpoint", type=Path, help="probe this checkpoint instead of training one")
    ap.add_argument("--work", type=Path, help="working folder (default: a temporary one)")
    ap.add_argument("--json", type=Path, help="write the result here")
    a = ap.parse_args()

    from eadnet.config import EADNetConfig
    from eadnet.inference import EADNetPipeline
    from eadnet.probe import emotion_probe, lipsync_probe
    from eadnet.train import train

    from eadbench import syncnet_train
    from eadbench.config import RunConfig
    from eadbench.prepare import prepare_dataset
    from eadbench.run.inputs import scan_dataset

    work = a.work or Path(tempfile.mkdtemp(prefix="eadbench-probes-"))
    scan = scan_dataset(RunConfig(dataset="synth", split=None))
    prepare_dataset("synth", Path(scan.root), work / "prepared", split="train", protocols=("face256",), progress=False)
    data = work / "prepared" / "synth"
    timings = {}
    ckpt = a.checkpoint
    if ckpt is None:
        over = {"w_lpips": 0.0, "w_trepa": 0.0, "w_sync": a.sync, "checkpoint_every": a.steps, "seed": a.seed,
                "ref_other_clip": a.ref_other_clip}
        if a.sync > 0:
            t = time.perf_counter()
            syncnet_train.train(data, work / "sync256.pt", steps=a.expert_steps, holdout=0, crop="face256",
                                seed=a.seed, progress=False, echo=lambda *_: None)
            timings["expert_s"] = round(time.perf_counter() - t, 1)
            over["syncnet_path"] = str(work / "sync256.pt")
        t = time.perf_counter()
        train(EADNetConfig.preset_config("tiny", **over), data, work / "eadnet", a.steps, progress=False)
        timings["train_s"] = round(time.perf_counter() - t, 1)
        ckpt = work / "eadnet" / "checkpoint.pt"
    pipe = EADNetPipeline.from_checkpoint(ckpt, device="cpu")
    res = {"steps": a.steps, "sync": a.sync, "ref_other_clip": a.ref_other_clip, "seed": a.seed,
           "checkpoint": str(ckpt), **timings}
    for ref in ("self", "offset"):
        t = time.perf_counter()
        p = lipsync_probe(pipe, data, reference=ref)
        res[ref] = {**p.to_dict(), "seconds": round(time.perf_counter() - t, 1)}
        print(f"reference={ref:6s} " + "  ".join(f"r({k}) {p.mean(k):+.2f}" for k in p.per_clip)
              + f"  margin {p.margin:+.2f}")
    e = emotion_probe(pipe, data)
    res["emotion"] = e.to_dict()
    print(f"emotion: text effect {e.effect:.2f}, intensity effect {e.intensity_effect:.2f} levels, "
          f"expression shift {e.shift:+.3f}")
    if a.json:
        a.json.write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
