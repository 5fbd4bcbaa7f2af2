"""The built-in models that ship inside the package, and the recipe that made them.

The default run on the built-in data (``eadbench run --dataset synth``) compares a tiny EAD-Net
and scores LSE with a small sync expert; EAD-Net's sync loss was taught by a second expert on
face256 crops. All three are eadbench's own, trained once on the built-in data's training split
with the recipes in ``eadbench/run/builtin.py`` and shipped here, beside this file:

=========  ===========================  ==================================================
name       file                         what
=========  ===========================  ==================================================
lse        ``lse_expert.safetensors``    sync expert on syncnet crops: LSE's ``--syncnet auto``
face256    ``face256_expert.safetensors`` sync expert on face256 crops: EAD-Net's sync loss
eadnet     ``eadnet_tiny.safetensors``   the tiny EAD-Net (EMA weights): method ``eadnet``
=========  ===========================  ==================================================

Each is float16 safetensors (cast back to float32 on load, which is exact), registered in the
weight table (``eadbench.weights``: sha256 and size, checked before every load), with
``<name>.recipe.json`` beside it: the configuration, steps, seed(s), the data's fingerprint and
content hash, the code version, thread count, training curve and final figures. Shipping them
makes the default run train nothing and its numbers the same on every machine (training is
chaotic across CPUs: float rounding sends it down another path). ``eadbench builtin train``
retrains any of them from scratch with the recipe and compares the result with the shipped
file; ``eadbench run --retrain-builtin`` uses freshly trained (cached) ones instead.

Why safetensors rather than torch pickles: the file is data only, loadable without unpickling,
and the float16 copy keeps every file under 5 MB (the tiny EAD-Net has 2.0 M parameters).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path

from eadbench.builtin_file import FORMAT as FILE_FORMAT
from eadbench.builtin_file import read
from eadbench.builtin_file import write as _write
from eadbench.errors import ConfigError, WeightsIntegrityError

# the recipe (steps, seeds, torch threads) lives with the training code in eadbench.run.builtin
from eadbench.run.builtin import THREADS as THREADS  # noqa: I001
from eadbench.run.builtin import recipe_threads

#: the folder the shipped files live in (package data)
HERE = Path(__file__).resolve().parent
#: name -> (weight-table name, file name)
MODELS: dict[str, tuple[str, str]] = {
    "lse": ("builtin-lse-expert", "lse_expert.safetensors"),
    "face256": ("builtin-face256-expert", "face256_expert.safetensors"),
    "eadnet": ("builtin-eadnet-tiny", "eadnet_tiny.safetensors"),
}
#: sync-expert name -> the crop protocol it learns from
CROPS = {"lse": "syncnet", "face256": "face256"}
FORMAT = FILE_FORMAT  # the files' format tag (eadbench.builtin_file)
RECIPE_FORMAT = "eadbench-builtin-recipe/1"
#: the largest file that may ship
MAX_BYTES = 5_000_000


def _check_name(name: str) -> None:
    if name not in MODELS:
        raise ConfigError(f"unknown built-in model {name!r}; choose from {', '.join(MODELS)}")


def recipe_path(name: str, folder: Path | None = None) -> Path:
    _check_name(name)
    return (folder or HERE) / f"{name}.recipe.json"


def shipped(name: str, weights_dir: str | Path | None = None) -> Path:
    """The shipped file of ``name``, its size and sha256 checked against the weight table
    (WeightsIntegrityError, one line, for a damaged or replaced file)."""
    from eadbench.weights import verified

    _check_name(name)
    table_name, filename = MODELS[name]
    loc = verified(table_name, weights_dir)
    if loc.hash_ok() is not True:  # the table pins both: a file it cannot judge is not the shipped one
        raise WeightsIntegrityError(f"{loc.path}: no pinned sha256 for the built-in {filename}")
    return loc.path


def export_expert(pt: Path, dest: Path) -> Path:
    """A trainer-written sync expert (fp32 state dict with ``arch`` and ``meta``) as fp16 safetensors."""
    import torch

    state = torch.load(pt, map_location="cpu", weights_only=True)
    arch, meta = state.pop("arch"), state.pop("meta")
    return _write(state, {"kind": "sync-expert", "arch": str(arch), "meta": str(meta)}, dest)


def export_eadnet(checkpoint: Path, dest: Path) -> Path:
    """An EAD-Net training checkpoint as fp16 safetensors: its EMA weights (what inference uses)
    and config only; the training weights, optimizer and scheduler state are left out. The
    config's sync-expert path (a cache path on the training machine) becomes ``builtin:face256``."""
    import torch

    st = torch.load(checkpoint, map_location="cpu", weights_only=True)
    config = dict(st["config"])
    config["syncnet_path"] = "builtin:face256"
    return _write(st["ema"], {"kind": "eadnet", "checkpoint_format": str(st["format"]), "config": json.dumps(config),
                              "step": str(int(st["step"]))}, dest)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def folder_hash(root: Path) -> str:
    """sha256 over every file below ``root`` (relative names and each file's sha256, sorted),
    skipping the lock and owner markers commands leave there and prepared clips' ``meta.json``
    (it names the absolute cache paths it was made from, which differ between machines): the
    media and crops themselves are what the models learn from."""
    h = hashlib.sha256()
    for f in sorted(p for p in Path(root).rglob("*") if p.is_file()):
        rel = f.relative_to(root).as_posix()
        if f.name.startswith(".eadbench") or f.name == "meta.json":
            continue
        h.update(rel.encode())
        h.update(sha256(f).encode())
    return h.hexdigest()


def git_commit() -> str | None:
    """The commit of the checkout eadbench runs from, with ``+dirty`` when its tracked Python
    files differ from it (None outside a git checkout)."""
    import subprocess

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", "-C", str(HERE), *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    head = git("rev-parse", "HEAD")
    if not head:
        return None
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", "*.py")
    return head + ("+dirty" if dirty else "")


# -- training -----------------------------------------------------------------------------------
def _data_record(cfg, prepared: Path) -> dict:
    from eadbench.config import RunConfig
    from eadbench.run.builtin import PREPARE_MODULES, code_version
    from eadbench.run.inputs import builtin_synth_root

    root = builtin_synth_root(cfg)
    return {"synth": {**RunConfig().synth, **cfg.synth}, "split": "train", "fingerprint": root.name,
            "sha256": folder_hash(root), "prepared": prepared.parent.name, "prepared_sha256": folder_hash(prepared),
            "prepare_code": code_version(*PREPARE_MODULES)}


def _environment(seconds: float) -> dict:
    import platform

    import torch

    from eadbench import __version__

    cpu = platform.processor()
    try:  # Linux names the model; platform.processor() is often empty there
        cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                    if ln.startswith("model name")), cpu)
    except OSError:
        pass
    return {"eadbench": __version__, "git_commit": git_commit(), "torch": torch.__version__,
            "threads": torch.get_num_threads(), "machine": platform.machine(), "cpu": cpu,
            "cpu_count": os.cpu_count(), "seconds": round(seconds, 1)}


def _expert_figures(path: Path, prepared: Path, crop: str, seed: int) -> dict:
    """The trainer's own figures (training-set sync and offset accuracy, nothing held out),
    recomputed for the weights in ``path`` (the fp16 file, cast to fp32)."""
    from eadbench.nets.syncnet import load_expert
    from eadbench.prepare import iter_prepared
    from eadbench.syncnet_train import evaluate, load_clip

    net = load_expert(path)
    clips = [c for p in iter_prepared(prepared) if crop in p.crops
             for c in [load_clip(p.crops[crop], p.audio, net)] if c is not None]
    return evaluate(net, clips, seed)


def train_expert(name: str, out: Path, cfg=None, steps: int | None = None, echo=print,
                 progress: bool = False) -> Path:
    """Train the sync expert ``name`` (lse or face256) from scratch with its recipe into
    ``out/<file>`` and ``out/<name>.recipe.json``; returns the safetensors file."""
    import eadbench.run.builtin as rb
    from eadbench.config import RunConfig

    cfg = cfg or RunConfig()
    t0 = time.perf_counter()
    prepared = rb._prepared_train(cfg, (CROPS[name],), progress)
    work = out / f".{name}-work"
    shutil.rmtree(work, ignore_errors=True)
    record = rb.train_sync_expert(prepared, CROPS[name], work, steps=steps, echo=echo, progress=progress)
    dest = package_expert(name, work / "expert.pt", record, out, cfg, time.perf_counter() - t0)
    shutil.rmtree(work, ignore_errors=True)
    return dest


def package_expert(name: str, pt: Path, record: dict, out: Path, cfg, seconds: float) -> Path:
    """Write a trained sync expert (``pt`` and the record ``train_sync_expert`` returned) as
    ``out/<file>`` (fp16) and its recipe."""
    import inspect

    import eadbench.run.builtin as rb
    from eadbench.syncnet_train import train as trainer

    crop = CROPS[name]
    prepared = rb._prepared_train(cfg, (crop,), False)  # already there: only its path
    dest = export_expert(pt, out / MODELS[name][1])
    defaults = {k: v.default for k, v in inspect.signature(trainer).parameters.items() if k in ("batch", "lr")}
    recipe = {
        "format": RECIPE_FORMAT, "name": name, "file": dest.name, "weight_table": MODELS[name][0],
        "what": f"sync expert (SyncNetSmall) on {crop} crops",
        "trainer": "eadbench.syncnet_train.train via eadbench.run.builtin.train_sync_expert",
        "config": {"crop": crop, "steps": record["steps"], "holdout": 0, **defaults, "seeds": record["seeds"],
                   "seed_rule": "seeds tried in turn until the training-set offset accuracy reaches LSE's "
                                "MIN_OFFSET_ACCURACY" if len(record["seeds"]) > 1 else "one seed"},
        "seed": record["seed"], "tried": record["tried"],
        "data": _data_record(cfg, prepared),
        "code_version": rb.code_version("eadbench.syncnet_train", "eadbench.nets.syncnet"),
        "environment": _environment(seconds),
        "final": {"training_set_fp32": record["tried"][-1]["training_set"],
                  "training_set_fp16_file": _expert_figures(dest, prepared, crop, record["seed"])},
    }
    return _finish(dest, recipe, out / f"{name}.recipe.json")


def _curve(metrics_csv: Path, every: int = 10) -> dict:
    """EAD-Net's training curve from its ``metrics.csv``: each loss averaged over windows of
    ``every`` steps (one step's diffusion loss depends on the noise level drawn, so single steps
    are noise), and the mean over the last 20 steps."""
    import csv

    with open(metrics_csv, newline="") as fh:
        rows = list(csv.DictReader(fh))
    keys = [k for k in rows[0] if k not in ("step", "seconds")] if rows else []

    def mean(block: list[dict], k: str) -> float:
        return round(sum(float(r[k]) for r in block) / max(1, len(block)), 6)

    windows = [rows[i:i + every] for i in range(0, len(rows), every)]
    return {"every": every, "columns": ["last_step"] + [f"{k}_mean" for k in keys],
            "rows": [[int(w[-1]["step"])] + [mean(w, k) for k in keys] for w in windows],
            "final_mean_last_20_steps": {k: mean(rows[-20:], k) for k in keys},
            "seconds": float(rows[-1]["seconds"]) if rows else 0.0}


def train_eadnet(out: Path, cfg=None, steps: int | None = None, expert_steps: int | None = None, echo=print,
                 progress: bool = False) -> Path:
    """Train the tiny EAD-Net from scratch with its recipe: first its face256 sync expert (as
    the default run always did: the expert it learnt from is part of the recipe), then EAD-Net
    with the sync loss from that fp32 expert. Writes ``out/eadnet_tiny.safetensors`` and its
    recipe, and the face256 expert trained on the way as ``out/face256_expert.safetensors`` with
    its own recipe; returns the EAD-Net file."""
    import eadbench.run.builtin as rb
    from eadbench.config import RunConfig

    cfg = cfg or RunConfig()
    t0 = time.perf_counter()
    prepared = rb._prepared_train(cfg, ("face256",), progress)
    work = out / ".eadnet-work"
    shutil.rmtree(work, ignore_errors=True)
    expert = rb.train_sync_expert(prepared, "face256", work / "expert", steps=expert_steps, echo=echo,
                                  progress=progress)
    package_expert("face256", work / "expert" / "expert.pt", expert, out, cfg, time.perf_counter() - t0)
    echo(f"training the built-in EAD-Net (tiny preset, {steps or rb.EADNET_STEPS} steps)")
    ckpt = rb.train_eadnet(prepared, work / "expert" / "expert.pt", work / "eadnet", steps=steps, progress=progress)
    dest = package_eadnet(ckpt, expert, out, cfg, time.perf_counter() - t0)
    shutil.rmtree(work, ignore_errors=True)
    return dest


def package_eadnet(checkpoint: Path, expert: dict, out: Path, cfg, seconds: float) -> Path:
    """Write a trained tiny EAD-Net (its checkpoint, ``metrics.csv`` beside it, and the record of
    the face256 expert it learnt from) as ``out/eadnet_tiny.safetensors`` (fp16) and its recipe."""
    import eadbench.run.builtin as rb

    prepared = rb._prepared_train(cfg, ("face256",), False)
    dest = export_eadnet(checkpoint, out / MODELS["eadnet"][1])
    config = json.loads(read(dest)[1]["config"])
    curve = _curve(checkpoint.parent / "metrics.csv")
    recipe = {
        "format": RECIPE_FORMAT, "name": "eadnet", "file": dest.name, "weight_table": MODELS["eadnet"][0],
        "what": "the tiny EAD-Net (EMA weights), the default run's method eadnet",
        "trainer": "eadnet.train.train via eadbench.run.builtin.train_eadnet",
        "config": {"preset": "tiny", "overrides": rb.EADNET_RECIPE, "steps": curve["rows"][-1][0] if curve["rows"]
                   else 0, "inference_steps": rb.EADNET_INFER_STEPS, "eadnet_config": config},
        "seed": config.get("seed"),
        "sync_expert": {"crop": "face256", "steps": expert["steps"], "seed": expert["seed"],
                        "training_set": expert["tried"][-1]["training_set"], "curve": expert["tried"][-1]["curve"],
                        "note": "trained first by the same command; EAD-Net learnt from its fp32 weights "
                                "(shipped in fp16 as face256_expert.safetensors)"},
        "data": _data_record(cfg, prepared),
        "code_version": rb.code_version("eadnet", "eadbench.syncnet_train", "eadbench.nets.syncnet"),
        "environment": _environment(seconds),
        "curve": curve,
        "final": {"training_losses_mean_last_20_steps": curve["final_mean_last_20_steps"]},
    }
    return _finish(dest, recipe, out / "eadnet.recipe.json")


def _finish(dest: Path, recipe: dict, recipe_file: Path) -> Path:
    from eadbench.jsonio import atomic_write_json

    size = dest.stat().st_size
    recipe["sha256"], recipe["size"] = sha256(dest), size
    recipe["dtype"] = "float16"
    atomic_write_json(recipe_file, recipe)
    if size > MAX_BYTES:
        raise ConfigError(f"{dest}: {size:,} bytes, over the {MAX_BYTES:,} a built-in model may ship with")
    return dest


def train(only: list[str] | None, out: Path, cfg=None, steps: int | None = None, echo=print,
          progress: bool = False) -> list[str]:
    """Retrain the built-in models named in ``only`` (all when None) from scratch into ``out``,
    with ``THREADS`` torch threads as they were trained. ``steps`` overrides every recipe's step
    count (a quick check; the result then is not the shipped recipe). Returns the names trained:
    eadnet always brings its face256 expert along."""
    names = list(MODELS) if not only else only
    for n in names:
        _check_name(n)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with recipe_threads():
        for n in names:
            if n == "eadnet":
                train_eadnet(out, cfg, steps=steps, expert_steps=steps, echo=echo, progress=progress)
            elif n != "face256" or "eadnet" not in names:  # else eadnet's recipe trains it (once)
                train_expert(n, out, cfg, steps=steps, echo=echo, progress=progress)
    return names + (["face256"] if "eadnet" in names and "face256" not in names else [])


# -- comparison and installation ----------------------------------------------------------------
def _figures(recipe: dict) -> dict[str, float]:
    f = recipe.get("final", {})
    flat: dict[str, float] = {}
    for group, values in f.items():
        for k, v in (values or {}).items():
            if isinstance(v, (int, float)):
                flat[f"{group}.{k}"] = float(v)
    return flat


def compare(name: str, folder: Path) -> dict:
    """How ``folder``'s ``name`` compares with the shipped one: the recipe figures side by side,
    the largest absolute weight difference (fp32 after loading) and whether the files are identical."""
    _check_name(name)
    new_file = Path(folder) / MODELS[name][1]
    new_recipe = json.loads(recipe_path(name, Path(folder)).read_text())
    old_file = shipped(name)
    old_recipe = json.loads(recipe_path(name).read_text())
    a, _ = read(old_file)
    b, _ = read(new_file)
    same_keys = set(a) == set(b) and all(a[k].shape == b[k].shape for k in a)
    diff = max((float((a[k].double() - b[k].double()).abs().max()) for k in a if a[k].numel()), default=0.0) \
        if same_keys else None
    fa, fb = _figures(old_recipe), _figures(new_recipe)
    return {"name": name, "shipped": str(old_file), "new": str(new_file),
            "identical": sha256(old_file) == sha256(new_file), "max_abs_weight_diff": diff,
            "same_layout": same_keys,
            "seed": {"shipped": old_recipe.get("seed"), "new": new_recipe.get("seed")},
            "steps": {"shipped": old_recipe["config"].get("steps"), "new": new_recipe["config"].get("steps")},
            "figures": {k: {"shipped": fa.get(k), "new": fb.get(k)} for k in sorted(set(fa) | set(fb))}}


def format_comparison(c: dict) -> str:
    lines = [f"{c['name']}: {c['new']} vs the shipped {Path(c['shipped']).name}: "
             + ("identical file" if c["identical"] else
                f"max |weight difference| {c['max_abs_weight_diff']:.4g}" if c["same_layout"] else
                "different layouts (not comparable weight by weight)"),
             f"  steps {c['steps']['new']} (shipped {c['steps']['shipped']}), seed {c['seed']['new']} "
             f"(shipped {c['seed']['shipped']})"]
    for k, v in c["figures"].items():
        new = "-" if v["new"] is None else f"{v['new']:.4f}"
        old = "-" if v["shipped"] is None else f"{v['shipped']:.4f}"
        lines.append(f"  {k}: {new} (shipped {old})")
    return "\n".join(lines)


def install(name: str, folder: Path) -> Path:
    """Replace the shipped ``name`` with ``folder``'s (file and recipe) and pin its new sha256
    and size in the weight table's source (``eadbench/weights/table.py``)."""
    import re

    from eadbench.atomic import atomic_write_text

    _check_name(name)
    src = Path(folder) / MODELS[name][1]
    digest, size = sha256(src), src.stat().st_size
    if size > MAX_BYTES:
        raise ConfigError(f"{src}: {size:,} bytes, over the {MAX_BYTES:,} a built-in model may ship with")
    table = Path(__file__).resolve().parent.parent / "weights" / "table.py"
    text = table.read_text()
    pattern = re.compile(r'(name="' + re.escape(MODELS[name][0]) + r'".*?sha256=")[0-9a-f]{64}(".*?size=)[0-9_]+',
                         re.S)
    if not pattern.search(text):
        raise ConfigError(f"{table}: no weight-table entry {MODELS[name][0]} with sha256 and size to update")
    text = pattern.sub(lambda m: f"{m.group(1)}{digest}{m.group(2)}{size:_}", text, count=1)
    for f in (src, recipe_path(name, Path(folder))):
        tmp = HERE / f".{f.name}.installing"
        shutil.copyfile(f, tmp)
        os.replace(tmp, HERE / f.name)
    atomic_write_text(table, text)
    return HERE / src.name
