"""Does the tiny EAD-Net follow its audio? Train it on the synthetic training split (optionally
with the sync loss, whose face256 expert is trained first on the same clips), then regenerate
those clips with their own audio, another clip's audio and silence, under both reference
modes, and report how closely the generated mouth follows the real one.

    .venv/bin/python benchmarks/lipsync_probe.py --steps 300 [--sync 0.02] [--checkpoint F]

The probe (``eadnet.probe``) correlates the generated and real mouth brightness frame by frame;
margin = r(own audio) - r(other audio). With ``reference: self`` a model can also score by
copying the mouth it sees in its reference frames.
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
    ap.add_argument("--expert-steps", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0, help="seed of the expert and of EAD-Net's training")
    ap.add_argument("--checkpoint", type=Path, help="probe this checkpoint instead of training one")
    ap.add_argument("--work", type=Path, help="working folder (default: a temporary one)")
    ap.add_argument("--json", type=Path, help="write the result here")
    a = ap.parse_args()

    from eadbench import runner, syncnet_train
    from eadbench.config import RunConfig
    from eadbench.prepare import prepare_dataset
    from eadnet.config import EADNetConfig
    from eadnet.inference import EADNetPipeline
    from eadnet.probe import probe
    from eadnet.train import train

    work = a.work or Path(tempfile.mkdtemp(prefix="eadbench-lipsync-"))
    scan = runner.scan_dataset(RunConfig(dataset="synth", split=None))
    prepare_dataset("synth", Path(scan.root), work / "prepared", split="train", protocols=("face256",), progress=False)
    data = work / "prepared" / "synth"
    timings = {}
    ckpt = a.checkpoint
    if ckpt is None:
        over = {"w_lpips": 0.0, "w_trepa": 0.0, "w_sync": a.sync, "checkpoint_every": a.steps, "seed": a.seed}
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
    res = {"steps": a.steps, "sync": a.sync, "seed": a.seed, "checkpoint": str(ckpt), **timings}
    for ref in ("self", "offset"):
        t = time.perf_counter()
        p = probe(pipe, data, reference=ref)
        res[ref] = {**p.to_dict(), "seconds": round(time.perf_counter() - t, 1)}
        print(f"reference={ref:6s} " + "  ".join(f"r({k}) {p.mean(k):+.2f}" for k in p.per_clip)
              + f"  margin {p.margin:+.2f}")
    if a.json:
        a.json.write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
