"""Figures for papers (PNG + PDF, readable in print): bars with CIs, a radar overview,
confusion matrices, expression-vs-intensity curves, the LSE offset histogram and a
qualitative frame grid."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from eadbench.report.tables import CONTROLS, DISPLAY, confusion  # noqa: E402
from eadbench.run.layout import RunDir, RunRecord  # noqa: E402

plt.rcParams.update({"font.size": 9, "axes.titlesize": 10, "figure.dpi": 110, "savefig.bbox": "tight",
                     "pdf.fonttype": 42})


def _save(fig, out: Path, name: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in ("png", "pdf"):
        p = out / f"{name}.{ext}"
        fig.savefig(p, metadata={"CreationDate": None} if ext == "pdf" else None)
        paths.append(p)
    plt.close(fig)
    return paths


def _plain(label: str) -> str:
    return label


def metric_bars(run: RunRecord, out: Path) -> list[Path]:
    keys = [k for k in DISPLAY if any(k.split("/")[1] in run.summary["methods"][m].get(k.split("/")[0], {})
                                      for m in run.summary["methods"])]
    if not keys:
        return []
    methods = list(run.summary["methods"])
    cols = min(3, len(keys))
    rows = math.ceil(len(keys) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False)
    for ax, key in zip(axes.flat, keys):
        metric, o = key.split("/")
        label, _, scale = DISPLAY[key]
        vals, errs, direction = [], [], None
        for m in methods:
            e = run.summary["methods"][m].get(metric, {}).get(o, {})
            v = e.get("value")
            vals.append(np.nan if v is None else v * scale)
            ci = e.get("ci95")
            errs.append([[(v - ci[0]) * scale], [(ci[1] - v) * scale]] if ci and v is not None else [[0], [0]])
            direction = direction or e.get("direction")
        err = np.array(errs).reshape(len(methods), 2).T
        ax.bar(range(len(methods)), vals, yerr=err, capsize=3, color="#4878a8", edgecolor="black", linewidth=0.5)
        ax.set_xticks(range(len(methods)), methods, rotation=30, ha="right")
        arrow = {"higher": " (↑ better)", "lower": " (↓ better)"}.get(direction or "", "")
        ax.set_title(_plain(label) + arrow)
        ax.grid(axis="y", alpha=0.3)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    fig.suptitle(f"{run.label}: mean over clips with 95% bootstrap CI")
    fig.tight_layout()
    return _save(fig, out, "metrics_bars")


def radar(run: RunRecord, out: Path) -> list[Path]:
    """Each metric scaled to [0, 1] across methods, 1 = best, so shapes compare at a glance."""
    keys = [k for k in DISPLAY if all(run.summary["methods"][m].get(k.split("/")[0], {}).get(k.split("/")[1], {})
                                      .get("value") is not None for m in run.summary["methods"])]
    methods = list(run.summary["methods"])
    if len(keys) < 3 or len(methods) < 2:
        return []
    data = np.zeros((len(methods), len(keys)))
    for j, key in enumerate(keys):
        metric, o = key.split("/")
        v = np.array([run.summary["methods"][m][metric][o]["value"] for m in methods], dtype=float)
        d = run.summary["methods"][methods[0]][metric][o].get("direction")
        span = v.max() - v.min()
        s = (v - v.min()) / span if span > 0 else np.ones_like(v)
        data[:, j] = 1 - s if d == "lower" else s
    angles = np.linspace(0, 2 * np.pi, len(keys), endpoint=False).tolist()
    fig = plt.figure(figsize=(4.5, 4.5))
    ax = fig.add_subplot(111, polar=True)
    for i, m in enumerate(methods):
        vals = data[i].tolist()
        control = m in CONTROLS  # a reference, not a contender: dashed and marked
        ax.plot(angles + angles[:1], vals + vals[:1], label=f"{m} (control)" if control else m, linewidth=1.5,
                linestyle="--" if control else "-")
        ax.fill(angles + angles[:1], vals + vals[:1], alpha=0.08)
    ax.set_xticks(angles, [_plain(DISPLAY[k][0]) for k in keys])
    ax.set_yticks([0.25, 0.5, 0.75, 1.0], ["", "", "", ""])
    ax.set_title(f"{run.label}: overview (1 = best of the compared methods)")
    ax.legend(loc="upper right", bbox_to_anchor=(1.35, 1.1), fontsize=7)
    return _save(fig, out, "overview_radar")


def confusion_matrices(run: RunRecord, out: Path) -> list[Path]:
    methods = [m for m in run.summary["methods"] if confusion(run, m) is not None]
    if not methods:
        return []
    fig, axes = plt.subplots(1, len(methods), figsize=(3.2 * len(methods), 3.0), squeeze=False)
    for ax, m in zip(axes.flat, methods):
        cm = confusion(run, m)
        labels = sorted(set(cm.index) | set(cm.columns))
        cm = cm.reindex(index=labels, columns=labels, fill_value=0)
        ax.imshow(cm.values, cmap="Blues")
        ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=7)
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
        for (i, j), v in np.ndenumerate(cm.values):
            if v:
                ax.text(j, i, str(v), ha="center", va="center", fontsize=7,
                        color="white" if v > cm.values.max() / 2 else "black")
        ax.set_title(m)
        ax.set_xlabel("predicted")
        ax.set_ylabel("target")
    fig.tight_layout()
    return _save(fig, out, "emotion_confusion")


def intensity_curves(run: RunRecord, out: Path) -> list[Path]:
    """Probability of the target emotion vs requested intensity: does expression grow with it?"""
    recs = [d for d in run.details if d.get("metric") == "emotion" and isinstance(d.get("probs"), dict)
            and d.get("emotion") in d["probs"] and d.get("intensity") is not None]
    if not recs:
        return []
    methods = sorted({d["method"] for d in recs})
    fig, ax = plt.subplots(figsize=(4, 3))
    for m in methods:
        pts: dict[float, list[float]] = {}
        for d in recs:
            if d["method"] == m:
                pts.setdefault(float(d["intensity"]), []).append(float(d["probs"][d["emotion"]]))
        xs = sorted(pts)
        ax.plot(xs, [np.mean(pts[x]) for x in xs], marker="o", label=m)
    ax.set_xlabel("requested intensity level")
    ax.set_ylabel("P(target emotion)")
    ax.set_title(f"{run.label}: expression vs intensity")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _save(fig, out, "emotion_vs_intensity")


def offset_histogram(run: RunRecord, out: Path) -> list[Path]:
    df = run.per_clip
    if df.empty:
        return []
    sub = df[(df["metric"] == "lse") & (df["output"] == "av_offset") & (df["status"] == "ok")]
    if sub.empty:
        return []
    methods = sorted(sub["method"].unique())
    fig, ax = plt.subplots(figsize=(4.5, 3))
    bins = np.arange(-15.5, 16.5, 1)
    ax.hist([sub[sub["method"] == m]["value"].to_numpy() for m in methods], bins=bins, label=methods)
    ax.set_xlabel("audio-visual offset (frames)")
    ax.set_ylabel("clips")
    ax.set_title(f"{run.label}: SyncNet offset per clip (0 = in sync)")
    ax.legend(fontsize=7)
    return _save(fig, out, "lse_offsets")


def qualitative_grid(run: RunRecord, out: Path, clips: list[str] | None = None, n_frames: int = 5,
                     thumb: int = 96) -> list[Path]:
    """For chosen clips: a row per method (ground truth on top), frames at fixed times."""
    import cv2

    from eadbench import media

    methods = list(run.summary["methods"])
    methods = ["ground_truth"] + [m for m in methods if m != "ground_truth"] if "ground_truth" in methods else methods
    folder = RunDir(run.path)
    if clips is None:
        first = folder.videos(methods[0])
        clips = sorted(p.stem for p in first.glob("*.mp4"))[:2] if first.exists() else []
    rows, labels = [], []
    for clip in clips:
        for m in methods:
            p = folder.video(m, clip)
            if not p.exists():
                continue
            frames = media.read_frames(p)
            idx = np.linspace(0, len(frames) - 1, n_frames).astype(int)
            rows.append(np.concatenate([cv2.resize(frames[i], (thumb, thumb), interpolation=cv2.INTER_AREA)
                                        for i in idx], axis=1))
            labels.append(f"{clip}\n{m}")
    if not rows:
        return []
    fig, axes = plt.subplots(len(rows), 1, figsize=(n_frames * 1.2, 1.25 * len(rows)), squeeze=False)
    for ax, img, lab in zip(axes.flat, rows, labels):
        ax.imshow(img)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(lab, rotation=0, ha="right", va="center", fontsize=6)
    fig.subplots_adjust(hspace=0.05)
    return _save(fig, out, "qualitative_grid")


def fvd_samples(run: RunRecord, draws: int = 5, seed: int = 0) -> dict[str, list[tuple[int, float, float]]]:
    """method -> [(clips, mean FVD, sd)] over random subsets of the scored clips (fixed seed), from
    the per-clip I3D features in the run folder: does the value still move with the sample size?"""
    from eadbench.metrics.frechet import frechet_distance_from_features

    d = RunDir(run.path)
    clips = sorted(run.per_clip["clip_id"].unique()) if not run.per_clip.empty else []
    rng = np.random.default_rng(seed)
    out: dict[str, list[tuple[int, float, float]]] = {}
    for method in run.summary["methods"]:
        pairs = []
        for c in clips:
            fake, real = d.load_output(d.score(method, c, "fvd")), d.load_output(d.real_score(c, "fvd"))
            if fake and real and fake.get("status") == "ok" and real.get("status") == "ok":
                pairs.append((fake["output"]["features"], real["output"]["features"]))
        n_all = len(pairs)
        sizes = sorted({min(n_all, 2 ** k) for k in range(1, 12)} | {n_all})
        curve = []
        for n in (s for s in sizes if s >= 2):
            vals = []
            for _ in range(draws if n < n_all else 1):
                idx = rng.choice(n_all, n, replace=False)
                f = np.concatenate([pairs[i][0] for i in idx])
                r = np.concatenate([pairs[i][1] for i in idx])
                if len(f) >= 2 and len(r) >= 2:
                    vals.append(frechet_distance_from_features(f, r))
            if vals:
                curve.append((n, float(np.mean(vals)), float(np.std(vals))))
        if curve:
            out[method] = curve
    return out


def fvd_convergence(run: RunRecord, out: Path) -> list[Path]:
    """FVD against the number of clips it was computed from."""
    curves = fvd_samples(run)
    if not curves:
        return []
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    for method, pts in curves.items():
        n, m, sd = (np.array(x) for x in zip(*pts))
        ax.errorbar(n, m, yerr=sd, marker="o", ms=3, capsize=2, label=_plain(method))
    ax.set_xscale("log", base=2)
    ax.set_xlabel("clips per side (random subsets, seed 0)")
    ax.set_ylabel("FVD")
    ax.set_title(f"FVD vs sample size ({run.label})")
    ax.legend(fontsize=7)
    return _save(fig, out, "fvd_vs_clips")


ALL_FIGURES = (metric_bars, radar, confusion_matrices, intensity_curves, offset_histogram, qualitative_grid,
               fvd_convergence)
