"""`eadbench ablate`: train EAD-Net with each switch set, generate the test clips, score, tabulate.

Every variant trains from the same seed on the same data order (eadnet.train derives all
randomness from (seed, step)), so rows differ only by their switches. Defaults: the built-in
synthetic data, the tiny preset, the paper's rows (baseline without STDA/TFRM/text, each
added alone, all together); ``grid`` gives all 2^3 combinations.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eadbench.config import MethodSpec, RunConfig
from eadbench.errors import EadbenchError
from eadbench.results import atomic_write_json, atomic_write_text

SWITCHES = ("stda", "tfrm", "text")
EXPERT_STEPS = 400  # under a minute on 2 cores; offset 0 on every training clip
PAPER_ROWS = {
    "baseline": dict(stda=False, tfrm=False, text=False), "+stda": dict(stda=True, tfrm=False, text=False),
    "+tfrm": dict(stda=False, tfrm=True, text=False), "+text": dict(stda=False, tfrm=False, text=True),
    "full": dict(stda=True, tfrm=True, text=True),
}
NAMED = {"full": dict(stda=True, tfrm=True, text=True), "no-stda": dict(stda=False, tfrm=True, text=True),
         "no-tfrm": dict(stda=True, tfrm=False, text=True), "no-text": dict(stda=True, tfrm=True, text=False)}


def variants(names: list[str] | None, grid: bool) -> dict[str, dict[str, bool]]:
    if grid:
        return {("+".join(s for s, on in zip(SWITCHES, bits) if on) or "baseline"): dict(zip(SWITCHES, bits))
                for bits in itertools.product([False, True], repeat=3)}
    if not names:
        return dict(PAPER_ROWS)
    out = {}
    for n in names:
        if n in PAPER_ROWS:
            out[n] = PAPER_ROWS[n]
        elif n in NAMED:
            out[n] = NAMED[n]
        else:
            raise EadbenchError(f"unknown variant {n!r}; known: {', '.join([*PAPER_ROWS, *NAMED])} (or --grid)")
    return out


@dataclass
class AblationResult:
    out: Path
    table: str
    rows: list[dict[str, Any]]


def ablate(out: str | Path, names: list[str] | None = None, grid: bool = False, train_steps: int = 300,
           infer_steps: int = 8, checkpoints: str | Path | None = None, overrides: dict | None = None,
           synth: dict | None = None, limit: int | None = None, metrics: list[str] | None = None,
           syncnet: str | None = None, echo=print, progress: bool = True) -> AblationResult:
    from eadbench.run import run as run_benchmark
    from eadbench.run.inputs import scan_dataset
    from eadbench.prepare import prepare_dataset
    from eadnet.config import EADNetConfig
    from eadnet.model import EADNet
    from eadnet.train import train

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    chosen = variants(names, grid)
    rc = RunConfig(dataset="synth", out=str(out / "run"), quiet=not progress, limit=limit, metrics=metrics)
    if synth:
        rc.synth.update(synth)
    scan = scan_dataset(RunConfig(dataset="synth", split=None, synth=rc.synth))
    data_root = Path(scan.root)
    rc.root = str(data_root)
    prepared = out / "prepared"
    prepare_dataset("synth", data_root, prepared, split="train", protocols=("face256",), progress=progress)
    if syncnet == "auto":  # with --checkpoints nothing trains, so no expert is needed
        syncnet = None if checkpoints else str(_train_expert(prepared / "synth", out / "sync256.pt", echo, progress))
    # defaults of the CPU ablation: losses that need weights this machine lacks are off (stated)
    base = {"w_lpips": 0.0, "w_trepa": 0.0, **({"syncnet_path": syncnet} if syncnet else {"w_sync": 0.0}),
            "checkpoint_every": max(10, train_steps), **(overrides or {})}
    rows = []
    for name, switches in chosen.items():
        cfg = EADNetConfig.preset_config("tiny", **{**base, **switches})
        ckpt = Path(checkpoints) / name / "checkpoint.pt" if checkpoints else out / "models" / name / "checkpoint.pt"
        t = time.perf_counter()
        if not checkpoints:
            echo(f"training {name} ({', '.join(f'{k}={v}' for k, v in switches.items())}) for {train_steps} steps")
            train(cfg, prepared / "synth", ckpt.parent, train_steps, progress=progress)
        elif not ckpt.exists():
            raise EadbenchError(f"--checkpoints: no {ckpt}")
        rows.append({"variant": name, **switches, "params": EADNet(cfg).parameter_report()["total"],
                     "train_seconds": round(time.perf_counter() - t, 1) if not checkpoints else None,
                     "checkpoint": str(ckpt)})
    rc.methods = [MethodSpec(r["variant"], "eadnet", {"checkpoint": r["checkpoint"], "steps": infer_steps,
                                                     "guidance": 1.0}) for r in rows]
    res = run_benchmark(rc, echo=echo)
    for r in rows:
        r["metrics"] = {f"{m}/{o}": e.get("value") for m, outs in res.summary["methods"].get(r["variant"], {}).items()
                        for o, e in outs.items()}
    table = format_table(rows, res.summary)
    atomic_write_text(out / "ablation.md", table)
    atomic_write_json(out / "ablation.json", {"rows": rows, "train_steps": train_steps, "infer_steps": infer_steps,
                                              "overrides": {k: v for k, v in base.items()},
                                              "split_hash": res.summary.get("split_hash")})
    return AblationResult(out, table, rows)


def _train_expert(data: Path, path: Path, echo, progress: bool) -> Path:
    """``--syncnet auto``: the sync loss's expert, learnt from the same training clips' face256
    crops (what the loss shows it), before any variant trains; reused when already there."""
    from eadbench.syncnet_train import train as train_expert

    if not path.exists():
        echo(f"training the sync expert on {data} (face256 crops)")
        train_expert(data, path, steps=EXPERT_STEPS, holdout=0, crop="face256", progress=progress, echo=echo)
    return path


def format_table(rows: list[dict[str, Any]], summary: dict) -> str:
    from eadbench.report.tables import DISPLAY

    keys = [k for k in DISPLAY if any(k in r.get("metrics", {}) for r in rows)]
    head = ["Variant", "STDA", "TFRM", "Text"] + [DISPLAY[k][0] for k in keys] + ["Params", "Train s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["variant"]] + ["✓" if r[s] else "✗" for s in SWITCHES]
        for k in keys:
            v = r["metrics"].get(k)
            _, dec, scale = DISPLAY[k]
            cells.append("–" if v is None else f"{v * scale:.{dec}f}")
        cells += [f"{r['params'] / 1e6:.2f}M", "–" if r["train_seconds"] is None else f"{r['train_seconds']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"Synthetic test split {summary.get('split_name')} (hash {summary.get('split_hash')}), "
                 f"{summary.get('n_clips')} clips; same seed and data order for every variant.")
    return "\n".join(lines) + "\n"


def load_rows(path: str | Path) -> list[dict]:
    return json.loads(Path(path).read_text())["rows"]
