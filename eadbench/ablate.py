"""`eadbench ablate`: train EAD-Net with each switch set, generate the test clips, score, tabulate.

Every variant trains from the same seed on the same data order (eadnet.train derives all
randomness from (seed, step)), so rows differ only by their switches. Defaults: the built-in
synthetic data, the tiny preset, the paper's rows (baseline without STDA/TFRM/text, each
added alone, all together); ``grid`` gives all 2^3 combinations.

``text_sources`` (``--text-source template,face``) adds an axis: every variant is trained once
per source of the emotion texts, on its own copy of the prepared training clips (hard links)
whose ``emotion.txt`` that describer wrote (``eadnet.describe``), and is given texts of the same
kind on the test clips (the test split prepared and described the same way; ``face`` takes the
training clips' neutral clips as population baseline for test speakers without one). Rows are
named ``<variant>/<source>``. Without it nothing changes: one row per variant, template texts.

``recipe="builtin"`` ablates the shipped EAD-Net's recipe (``eadbench.run.builtin``): every variant
trains on that recipe's data with its overrides, steps and thread count, the sync loss taught by
the shipped face256 expert (the shipped model learnt from that expert's fp32 weights, trained in
the same command; the fp16 file is the closest that ships); ``steps_for`` gives a variant fewer
steps (said in the report), ``checkpoint_for`` takes a variant's weights from a file (``builtin``:
the shipped model, the full variant of that recipe). ``source="neutral"`` scores EAT's editing
protocol (every clip driven from its speaker's neutral clip), ``probe`` adds the emotion probe on
the training split, and ``report`` writes the ablation report (Markdown, LaTeX, figure, JSON).
Trained variants resume from their checkpoint, so variants can be trained in separate sessions.

A study on the shared session (``eadbench.run.session``): the session owns and locks the
ablation folder and writes its records; the variants are evaluated by one ``eadbench.run`` (the
same session's setup) into ``<out>/run``.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eadbench.config import MethodSpec, RunConfig
from eadbench.errors import EadbenchError
from eadbench.run.session import Owner, Session

SWITCHES = ("stda", "tfrm", "text")
ABLATION_JSON, ABLATION_MD = "ablation.json", "ablation.md"
#: an ablation folder written before owner markers holds ablation.json with its rows
ABLATE = Owner("eadbench ablate", "ablate", ABLATION_JSON, "rows")
EXPERT_STEPS = 400  # about a minute on 2 cores (on the built-in data it stays near chance: see run/builtin.py)
PAPER_ROWS = {
    "baseline": dict(stda=False, tfrm=False, text=False), "+stda": dict(stda=True, tfrm=False, text=False),
    "+tfrm": dict(stda=False, tfrm=True, text=False), "+text": dict(stda=False, tfrm=False, text=True),
    "full": dict(stda=True, tfrm=True, text=True),
}
TEXT_SOURCES = ("template", "face")
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


def text_sources(names: list[str] | None) -> list[str] | None:
    """Parse ``--text-source``: None (the default ablation) or distinct known sources, in order."""
    if names is None:
        return None
    out = list(dict.fromkeys(n.strip() for n in names if n.strip()))
    if not out:
        raise EadbenchError(f"--text-source needs at least one of {', '.join(TEXT_SOURCES)}")
    bad = [n for n in out if n not in TEXT_SOURCES]
    if bad:
        raise EadbenchError(f"unknown text source {bad[0]!r}; known: {', '.join(TEXT_SOURCES)}")
    return out


def _described_copy(src: Path, dest: Path, source: str, extra_neutral: Path | None, progress: bool) -> Path:
    """``src`` (a prepared dataset folder) linked into ``dest`` with ``source``'s emotion.txt files."""
    import os
    import shutil

    from eadnet.describe import build, describe_prepared, prepared_clips

    # linked afresh every run (a re-prepared clip is picked up); earlier descriptions are carried
    # over and reused only where their cache key (clip content, describer, baseline) still matches
    tmp = dest.with_name(f".{dest.name}.part")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp, copy_function=os.link,
                    ignore=shutil.ignore_patterns("emotion.txt", "emotion.json"))
    for f in [*dest.glob("*/emotion.txt"), *dest.glob("*/emotion.json")] if dest.exists() else []:
        if (tmp / f.parent.name).is_dir():
            shutil.copy2(f, tmp / f.parent.name / f.name)
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(tmp, dest)
    extra = prepared_clips(extra_neutral) if extra_neutral is not None else None
    rep = describe_prepared(dest, build(source, extra_neutral=extra), progress=progress)
    if rep.failed:
        raise EadbenchError(f"{source} descriptions failed for {len(rep.failed)} clip(s) in {dest}, e.g. "
                            f"{rep.failed[0][0]}: {rep.failed[0][1]}")
    return dest


@dataclass
class AblationResult:
    out: Path
    table: str
    rows: list[dict[str, Any]]


RECIPES = ("default", "builtin")


def ablate(out: str | Path, names: list[str] | None = None, grid: bool = False, train_steps: int | None = None,
           infer_steps: int | None = None, checkpoints: str | Path | None = None, overrides: dict | None = None,
           synth: dict | None = None, limit: int | None = None, metrics: list[str] | None = None,
           syncnet: str | None = None, echo=print, progress: bool = True,
           text_source: list[str] | None = None, recipe: str = "default", steps_for: dict[str, int] | None = None,
           checkpoint_for: dict[str, str] | None = None, source: str | None = None, probe: bool = False,
           report: str | Path | None = None, command: str | None = None) -> AblationResult:
    from eadnet.config import EADNetConfig
    from eadnet.model import EADNet
    from eadnet.train import train

    from eadbench.prepare import prepare_dataset
    from eadbench.run import run as run_benchmark
    from eadbench.run.inputs import scan_dataset

    out = Path(out)
    chosen = variants(names, grid)
    sources = text_sources(text_source)
    if recipe not in RECIPES:
        raise EadbenchError(f"unknown recipe {recipe!r}; known: {', '.join(RECIPES)}")
    builtin_recipe = recipe == "builtin"
    if builtin_recipe and (sources or syncnet):
        raise EadbenchError("--recipe builtin trains with the shipped face256 expert and template texts: drop "
                            "--syncnet and --text-source")
    for what, given in (("--steps-for", steps_for), ("--checkpoint-for", checkpoint_for)):
        unknown = sorted(set(given or {}) - set(chosen))
        if unknown:
            raise EadbenchError(f"{what}: {unknown[0]!r} is not one of the variants ({', '.join(chosen)})")
    if builtin_recipe:
        from eadbench.run import builtin as rb

        train_steps = rb.EADNET_STEPS if train_steps is None else train_steps
        infer_steps = rb.EADNET_INFER_STEPS if infer_steps is None else infer_steps
        guidance = rb.EADNET_GUIDANCE
    else:
        train_steps = 300 if train_steps is None else train_steps
        infer_steps = 8 if infer_steps is None else infer_steps
        guidance = 1.0
    rc = RunConfig(dataset="synth", out=str(out / "run"), quiet=not progress, limit=limit, metrics=metrics)
    if synth:
        rc.synth.update(synth)
    session = Session(rc, ABLATE, out, echo)
    with session.locked():
        scan = scan_dataset(RunConfig(dataset="synth", split=None, synth=rc.synth))
        data_root = Path(scan.root)
        rc.root = str(data_root)
        prepared = out / "prepared"
        prepare_dataset("synth", data_root, prepared, split="train", protocols=("face256",), progress=progress)
        if builtin_recipe:
            from eadbench.builtin import shipped

            rc_data = RunConfig(dataset="synth", synth=rc.synth)
            base = {**rb.EADNET_RECIPE, "syncnet_path": str(shipped("face256")),
                    "checkpoint_every": max(10, train_steps), **(overrides or {})}
            train_data = {None: rb.eadnet_training_data(rc_data, progress)}
        else:
            if syncnet == "auto":  # with --checkpoints nothing trains, so no expert is needed
                syncnet = None if checkpoints else str(_train_expert(prepared / "synth", out / "sync256.pt", echo,
                                                                     progress))
            # defaults of the CPU ablation: losses that need weights this machine lacks are off (stated)
            base = {"w_lpips": 0.0, "w_trepa": 0.0, **({"syncnet_path": syncnet} if syncnet else {"w_sync": 0.0}),
                    "checkpoint_every": max(10, train_steps), **(overrides or {})}
            train_data = {None: prepared / "synth"}
        test_texts: dict[str | None, Path | None] = {None: None}
        for src in sources or []:
            echo(f"describing the training clips ({src})")
            train_data[src] = _described_copy(prepared / "synth", out / f"prepared-{src}" / "synth", src, None,
                                              progress)
            test_texts[src] = None
            if src != "template":  # template texts at test time are the generator's default already
                prepare_dataset("synth", data_root, out / "prepared-test", split="test", protocols=("face256",),
                                limit=limit, progress=progress)
                test_texts[src] = _described_copy(out / "prepared-test" / "synth",
                                                  out / f"prepared-test-{src}" / "synth", src, train_data[src],
                                                  progress)
        rows = []
        for (name, switches), src in itertools.product(chosen.items(), sources or [None]):
            label = f"{name}/{src}" if src else name
            cfg = EADNetConfig.preset_config("tiny", **{**base, **switches})
            steps = (steps_for or {}).get(name, train_steps)
            given = (checkpoint_for or {}).get(name)
            if given is not None:
                ckpt = shipped("eadnet") if given == "builtin" and builtin_recipe else Path(given)
                if not ckpt.exists():
                    raise EadbenchError(f"--checkpoint-for {name}: no {ckpt}")
            else:
                ckpt = (Path(checkpoints) if checkpoints else out / "models") / label / "checkpoint.pt"
            t = time.perf_counter()
            if given is None and not checkpoints:
                on = ", ".join(f"{k}={v}" for k, v in switches.items())
                echo(f"training {label} ({on}) for {steps} steps")
                with _threads(builtin_recipe):
                    train(dataclasses.replace(cfg, checkpoint_every=max(10, steps)), train_data[src], ckpt.parent,
                          steps, progress=progress)
            elif not ckpt.exists():
                raise EadbenchError(f"--checkpoints: no {ckpt}")
            rows.append({"variant": label, **switches, **({"text_source": src} if src else {}),
                         "params": EADNet(cfg).parameter_report()["total"],
                         "steps": _trained_steps(ckpt, steps), "weights": "given" if given else
                         ("loaded" if checkpoints else "trained"),
                         "train_seconds": _train_seconds(ckpt, time.perf_counter() - t) if not (checkpoints or given)
                         else None,
                         "checkpoint": str(ckpt), "texts": str(test_texts[src]) if test_texts[src] else None})
        rc.methods = [MethodSpec(r["variant"], "eadnet", {"checkpoint": r["checkpoint"], "steps": infer_steps,
                                                         "guidance": guidance,
                                                         **({"texts": r["texts"]} if r["texts"] else {})})
                      for r in rows]
        if source:
            rc.source = source
        res = run_benchmark(rc, echo=echo)
        for r in rows:
            r["metrics"] = {f"{m}/{o}": e.get("value")
                            for m, outs in res.summary["methods"].get(r["variant"], {}).items()
                            for o, e in outs.items()}
            r["ci95"] = {f"{m}/{o}": e.get("ci95")
                         for m, outs in res.summary["methods"].get(r["variant"], {}).items()
                         for o, e in outs.items() if e.get("ci95")}
        if probe:
            probe_data = (rb._prepared_train(rc_data, ("face256",), progress) if builtin_recipe
                          else prepared / "synth")
            for r in rows:
                echo(f"emotion probe of {r['variant']} on {probe_data}")
                r["probe"] = _probe(Path(r["checkpoint"]), probe_data)
        table = format_table(rows, res.summary)
        session.write_text(ABLATION_MD, table)
        record = {"rows": rows, "train_steps": train_steps, "infer_steps": infer_steps, "guidance": guidance,
                  "recipe": recipe, "steps_for": steps_for or {}, "source": source,
                  "overrides": {k: v for k, v in base.items()},
                  "split_hash": res.summary.get("split_hash"), "n_clips": res.summary.get("n_clips"),
                  "text_sources": sources, "command": command}
        session.write_json(ABLATION_JSON, record)
        if report is not None:
            from eadbench.report.ablation import write_ablation_report

            write_ablation_report(record, Path(report))
        return AblationResult(out, table, rows)


def _threads(builtin_recipe: bool):
    import contextlib

    if not builtin_recipe:
        return contextlib.nullcontext()
    from eadbench.run import builtin as rb

    return rb.recipe_threads()  # the thread count the built-in models are trained with


def _trained_steps(ckpt: Path, default: int) -> int:
    """The optimiser steps behind a checkpoint (a built-in file records them), else ``default``."""
    try:
        if ckpt.suffix == ".safetensors":
            from eadbench.builtin_file import read

            return int(read(ckpt)[1]["step"])
        import torch

        return int(torch.load(ckpt, map_location="cpu", weights_only=True)["step"])
    except (OSError, KeyError, ValueError, RuntimeError):
        return default


def _train_seconds(ckpt: Path, fallback: float) -> float:
    """The training's own wall seconds (its ``metrics.csv``: a variant resumed in a later session,
    or found complete, counts the time it trained, not this call's)."""
    import csv

    try:
        with open(ckpt.parent / "metrics.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
        return round(float(rows[-1]["seconds"]), 1)
    except (OSError, KeyError, ValueError, IndexError):
        return round(fallback, 1)


def _probe(ckpt: Path, data: Path) -> dict:
    """The emotion probe (``eadnet.probe.emotion_probe``) with a bootstrap CI of its shift."""
    from eadnet.inference import EADNetPipeline
    from eadnet.probe import emotion_probe

    from eadbench.results import bootstrap_ci

    res = emotion_probe(EADNetPipeline.from_checkpoint(ckpt, device="cpu"), data)
    shifts = [c["shift"] for c in res.per_clip.values()]
    return {"shift": res.shift, "shift_ci95": bootstrap_ci(shifts), "text_effect": res.effect,
            "intensity_effect": res.intensity_effect, "n_clips": len(shifts)}


def _train_expert(data: Path, path: Path, echo, progress: bool) -> Path:
    """``--syncnet auto``: the sync loss's expert, learnt from the same training clips' face256
    crops (what the loss shows it), before any variant trains; reused when already there."""
    from eadbench.syncnet_train import train as train_expert

    if not path.exists():
        echo(f"training the sync expert on {data} (face256 crops)")
        train_expert(data, path, steps=EXPERT_STEPS, holdout=0, crop="face256", progress=progress, echo=echo)
    return path


def format_table(rows: list[dict[str, Any]], summary: dict) -> str:
    from eadbench.report.tables import DISPLAY, _fmt

    keys = [k for k in DISPLAY if any(k in r.get("metrics", {}) for r in rows)]
    with_source = any(r.get("text_source") for r in rows)
    with_probe = any(r.get("probe") for r in rows)
    head = (["Variant", "STDA", "TFRM", "Text"] + (["Text source"] if with_source else [])
            + [DISPLAY[k][0] for k in keys] + (["Probe shift", "Text effect"] if with_probe else [])
            + ["Params", "Steps", "Train s"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["variant"]] + ["✓" if r[s] else "✗" for s in SWITCHES]
        if with_source:
            cells.append(r.get("text_source") or "template")
        for k in keys:
            _, dec, scale = DISPLAY[k]
            cells.append(_fmt(r["metrics"].get(k), dec, scale, (r.get("ci95") or {}).get(k)))
        if with_probe:
            pr = r.get("probe") or {}
            cells += [_fmt(pr.get("shift"), 3, 1.0, pr.get("shift_ci95")), _fmt(pr.get("text_effect"), 2, 1.0)]
        steps = r.get("steps")
        cells += [f"{r['params'] / 1e6:.2f}M", "–" if steps is None else str(steps),
                  "–" if r["train_seconds"] is None else f"{r['train_seconds']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"Synthetic test split {summary.get('split_name')} (hash {summary.get('split_hash')}), "
                 f"{summary.get('n_clips')} clips; same seed and data order for every variant"
                 + ("; ± half the 95% bootstrap CI over clips." if any(r.get("ci95") for r in rows) else "."))
    return "\n".join(lines) + "\n"


def load_rows(path: str | Path) -> list[dict]:
    return json.loads(Path(path).read_text())["rows"]
