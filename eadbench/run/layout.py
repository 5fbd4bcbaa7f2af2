"""The run folder: every path in it, and reading and writing its records. Nothing else spells
out a path of the run folder.

    inputs/<clip>/{real.mp4,audio.wav,key,input.json}   the clip at 25 fps + 16 kHz driving audio
    videos/<method>/<clip>.mp4 (+ .json)                 generated video, its key and provenance
    scores/<method>/<clip>/<metric>.json (+ .npz)        per-clip metric output (features for FID/FVD)
    scores/_real/<clip>/<metric>.json (+ .npz)           the real side of set-level metrics, once per clip
    manifest.json, per_clip.csv/.parquet, clip_details.jsonl, summary.json, failures.csv, timings.json
    probe/<method>/<clip>/..., lipleak_probe.json        what ``eadbench probe lipleak`` writes instead

The file and folder names are the constants below (``RUN_FILES``: the run-wide files); other
modules take them from here or from ``RunDir``.

``load_run`` reads a finished run folder (what ``check``, ``report`` and ``score`` use).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eadbench.atomic import atomic_path
from eadbench.errors import CorruptFileError, EadbenchError
from eadbench.jsonio import atomic_write_json, load_json

REAL = "_real"  # the scores folder of the real side (not a method name: methods may not start with "_")

INPUTS, VIDEOS, SCORES, PROBE = "inputs", "videos", "scores", "probe"
REAL_VIDEO, AUDIO, INPUT_KEY, INPUT_INFO = "real.mp4", "audio.wav", "key", "input.json"
MANIFEST = "manifest.json"
SUMMARY = "summary.json"
PER_CLIP_CSV = "per_clip.csv"
PER_CLIP_PARQUET = "per_clip.parquet"
DETAILS = "clip_details.jsonl"
FAILURES = "failures.csv"
TIMINGS = "timings.json"
LIPLEAK_PROBE = "lipleak_probe.json"
#: the run-wide files of a run folder (and of a lipleak probe's folder)
RUN_FILES = (MANIFEST, SUMMARY, PER_CLIP_CSV, PER_CLIP_PARQUET, DETAILS, FAILURES, TIMINGS, LIPLEAK_PROBE)


class RunDir:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    # -- paths ---------------------------------------------------------------------------------------
    def inputs(self, clip_id: str) -> Path:
        return self.root / INPUTS / clip_id

    def real_video(self, clip_id: str) -> Path:
        return self.inputs(clip_id) / REAL_VIDEO

    def audio(self, clip_id: str) -> Path:
        return self.inputs(clip_id) / AUDIO

    def input_key(self, clip_id: str) -> Path:
        return self.inputs(clip_id) / INPUT_KEY

    def input_info(self, clip_id: str) -> Path:
        return self.inputs(clip_id) / INPUT_INFO

    def videos(self, method: str) -> Path:
        """The folder of ``method``'s generated videos."""
        return self.root / VIDEOS / method

    def video(self, method: str, clip_id: str) -> Path:
        return self.videos(method) / f"{clip_id}.mp4"

    def video_record(self, method: str, clip_id: str) -> Path:
        return self.video(method, clip_id).with_suffix(".json")

    def score(self, method: str, clip_id: str, metric: str) -> Path:
        return self.root / SCORES / method / clip_id / f"{metric}.json"

    def real_score(self, clip_id: str, metric: str) -> Path:
        return self.score(REAL, clip_id, metric)

    def probe(self, method: str, clip_id: str) -> Path:
        """The lipleak probe's working folder for ``method`` on ``clip_id``."""
        return self.root / PROBE / method / clip_id

    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST

    @property
    def summary(self) -> Path:
        return self.root / SUMMARY

    @property
    def per_clip_csv(self) -> Path:
        return self.root / PER_CLIP_CSV

    @property
    def per_clip_parquet(self) -> Path:
        return self.root / PER_CLIP_PARQUET

    @property
    def details(self) -> Path:
        return self.root / DETAILS

    @property
    def failures(self) -> Path:
        return self.root / FAILURES

    @property
    def timings(self) -> Path:
        return self.root / TIMINGS

    @property
    def lipleak_probe(self) -> Path:
        return self.root / LIPLEAK_PROBE

    # -- records -------------------------------------------------------------------------------------
    @staticmethod
    def save_output(path: Path, key: str, output: dict[str, Any] | None, error: str | None, status: str) -> None:
        """A score record: the plain values in JSON, arrays (features) beside it in an .npz."""
        arrays = {k: v for k, v in (output or {}).items() if isinstance(v, np.ndarray)}
        plain = {k: v for k, v in (output or {}).items() if not isinstance(v, np.ndarray)}
        if arrays:
            with atomic_path(path.with_suffix(".npz")) as tmp, open(tmp, "wb") as fh:
                np.savez(fh, **arrays)
        atomic_write_json(path, {"key": key, "status": status, "error": error, "output": plain,
                                 "arrays": sorted(arrays)})

    @staticmethod
    def load_output(path: Path) -> dict[str, Any] | None:
        """A score record, or None when it is missing or damaged (it is then recomputed)."""
        try:
            rec = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(rec, dict) or not isinstance(rec.get("output", {}), dict):
            return None
        if rec.get("arrays"):
            try:
                with np.load(path.with_suffix(".npz")) as z:
                    rec["output"].update({k: z[k] for k in rec["arrays"]})
            except (OSError, ValueError, KeyError):
                return None
        return rec

    def generation(self, method: str, clip_id: str) -> dict[str, Any]:
        side = self.video_record(method, clip_id)
        try:
            rec = json.loads(side.read_text())
        except (OSError, ValueError):
            return {"status": "failed", "error": "not generated"}
        return rec if isinstance(rec, dict) else {"status": "failed", "error": "damaged generation record"}

    def record_generation(self, method: str, clip_id: str, key: str | None, error: str,
                          status: str = "failed", **details) -> None:
        """``details``: more about a failure (a wrapped program's ``log_tail`` and ``command``)."""
        atomic_write_json(self.video_record(method, clip_id), {"key": key, "status": status, "error": error,
                                                               **details})


@dataclass
class RunRecord:
    """A finished run folder, read back."""

    path: Path
    summary: dict[str, Any]
    manifest: dict[str, Any]
    per_clip: Any  # pandas.DataFrame
    details: list[dict[str, Any]]

    @property
    def label(self) -> str:
        return str(self.summary.get("dataset", self.path.name)).upper()

    def per_clip_values(self) -> dict[str, dict[str, dict[str, float]]]:
        """method -> "metric/output" -> clip -> value, for the clips scored ok."""
        out: dict[str, dict[str, dict[str, float]]] = {}
        df = self.per_clip
        if df is None or df.empty:
            return out
        df = df[(df["status"] == "ok") & df["value"].notna()]
        for (m, metric, o), g in df.groupby(["method", "metric", "output"]):
            out.setdefault(m, {})[f"{metric}/{o}"] = dict(zip(g["clip_id"], g["value"].astype(float)))
        return out


def validate_summary(summary: dict[str, Any], path: Path) -> dict[str, Any]:
    """summary.json must map methods -> metrics -> outputs -> entries with a value, and each entry's
    fields must have the types its readers (check, report) compute with: a damaged file is one line
    naming the file and the field (exit 2), never a crash that CI would read as a regression."""
    methods = summary.get("methods")
    ok = isinstance(methods, dict) and all(
        isinstance(ms, dict) and all(isinstance(outs, dict) and all(isinstance(e, dict) and "value" in e
                                                                    for e in outs.values())
                                     for outs in ms.values())
        for ms in methods.values())
    if not ok:
        raise CorruptFileError(f"{path} is not a summary written by eadbench run (expected methods -> metrics -> "
                               "outputs -> {value, ...})")
    for method, ms in methods.items():
        for metric, outs in ms.items():
            for output, e in outs.items():
                problem = _entry_problem(e)
                if problem:
                    raise CorruptFileError(f"{path} is damaged: methods.{method}.{metric}.{output}.{problem}")
    return summary


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _entry_problem(e: dict[str, Any]) -> str | None:
    """What is wrong with one summary entry (``field is ...``), or None."""
    v = e["value"]
    if v is not None and not _is_number(v):
        return f"value is {v!r}, not a number or null"
    if e.get("direction") not in (None, "higher", "lower"):
        return f"direction is {e['direction']!r}, not higher, lower or null"
    ci = e.get("ci95")
    if ci is not None and not (isinstance(ci, list) and len(ci) == 2 and all(x is None or _is_number(x) for x in ci)):
        return f"ci95 is {ci!r}, not [low, high] or null"
    for key in ("n_used", "n_failed", "n_dropped", "n_excluded"):
        n = e.get(key)
        if n is not None and not (isinstance(n, int) and not isinstance(n, bool) and n >= 0):
            return f"{key} is {n!r}, not a count"
    return None


def load_run(path: str | Path) -> RunRecord:
    """A finished run folder; one-line errors (exit 2) when it is not one or its files are damaged."""
    import pandas as pd

    d = RunDir(path)
    if not d.summary.exists():
        raise EadbenchError(f"{d.root} is not a finished run folder (no summary.json); run `eadbench run` first")
    summary = validate_summary(load_json(d.summary, "run summary"), d.summary)
    manifest = load_json(d.manifest, "run manifest") if d.manifest.exists() else {}
    try:
        per_clip = pd.read_csv(d.per_clip_csv) if d.per_clip_csv.exists() else pd.DataFrame()
        if not per_clip.empty and not {"method", "clip_id", "metric", "output", "value", "status"} <= set(per_clip):
            raise ValueError("missing columns")
        details = []
        if d.details.exists():
            details = [json.loads(line) for line in d.details.read_text().splitlines() if line]
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise CorruptFileError(f"{d.root}: per-clip files are damaged ({type(exc).__name__}: "
                               f"{str(exc).splitlines()[0][:100]})") from None
    return RunRecord(d.root, summary, manifest, per_clip, details)
