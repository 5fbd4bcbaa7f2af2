"""The EAD-Net ablation report (`eadbench ablate --report DIR`): Markdown, LaTeX, a figure and the
JSON record, written from what `eadbench.ablate` measured (never by hand).

One row per variant (its STDA / TFRM / text switches, the steps it trained for, where its
weights came from), the benchmark's metrics with half their 95% bootstrap CI over clips, and the
emotion probe's shift (the fraction of a real expression change that switching the text
reproduces) with its CI. The figure shows the columns that carry the text ablation: Acc_emo, the
probe shift and AV-sync, each with its CI. The command that regenerated the record is printed
in the report, so a reader can run it again.
"""

from __future__ import annotations

from pathlib import Path

from eadbench.report.tables import DISPLAY, Cell, Table, _fmt, to_latex, to_markdown

#: the figure's panels: (row key, label, scale); probe/shift is the probe's, the rest the run's
FIGURE = (("emotion/acc_emo", "Acc_emo (%)", 100.0), ("probe/shift", "Emotion probe shift", 1.0),
          ("avsync/avsync_peak", "AV-sync peak", 1.0))


def _value(row: dict, key: str) -> tuple[float | None, list[float] | None]:
    if key == "probe/shift":
        pr = row.get("probe") or {}
        return pr.get("shift"), pr.get("shift_ci95")
    return row.get("metrics", {}).get(key), (row.get("ci95") or {}).get(key)


def _source_text(source: str | None) -> str:
    return "their speaker's neutral clip (EAT's editing protocol)" if source == "neutral" else "their own video"


def ablation_table(record: dict) -> Table:
    rows = record["rows"]
    keys = [k for k in DISPLAY if any(k in r.get("metrics", {}) for r in rows)]
    columns = [("", "STDA"), ("", "TFRM"), ("", "Text"), ("", "Steps")]
    columns += [("", DISPLAY[k][0]) for k in keys]
    probe = any(r.get("probe") for r in rows)
    if probe:
        columns += [("", "Probe shift"), ("", "Text effect")]
    out = []
    for r in rows:
        cells = [Cell(None, "✓" if r[s] else "✗") for s in ("stda", "tfrm", "text")]
        cells.append(Cell(r.get("steps"), str(r.get("steps", "–")) + (" (shipped)" if r.get("weights") == "given"
                                                                       else "")))
        for k in keys:
            v, ci = _value(r, k)
            cells.append(Cell(v, _fmt(v, DISPLAY[k][1], DISPLAY[k][2], ci)))
        if probe:
            v, ci = _value(r, "probe/shift")
            cells.append(Cell(v, _fmt(v, 3, 1.0, ci)))
            te = (r.get("probe") or {}).get("text_effect")
            cells.append(Cell(te, "–" if te is None else f"{te:.2f}"))
        out.append((r["variant"], cells))
    notes = [f"recipe {record.get('recipe', 'default')}: {record.get('train_steps')} training steps unless the "
             f"Steps column says otherwise, {record.get('infer_steps')} DDIM steps, guidance "
             f"{record.get('guidance', 1.0)}; same seed and data order for every variant",
             f"test clips driven from {_source_text(record.get('source'))}; "
             f"{record.get('n_clips')} clips, split hash {record.get('split_hash')}; ± half the 95% bootstrap CI "
             "over clips"]
    if probe:
        notes.append("probe shift: the fraction of the real expression change between two clips of a training "
                     "speaker that switching the emotion text reproduces (1 = all of it, 0 = none); text effect: "
                     "the mean absolute change of the lower face in 0-255 levels (eadbench eadnet probe emotion)")
    return Table("EAD-Net ablation", columns, out, notes)


def figure(record: dict, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = record["rows"]
    panels = [p for p in FIGURE if any(_value(r, p[0])[0] is not None for r in rows)]
    if not panels:
        return []
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.2), squeeze=False)
    names = [r["variant"] for r in rows]
    for ax, (key, label, scale) in zip(axes[0], panels):
        vals, errs = [], [[], []]
        for r in rows:
            v, ci = _value(r, key)
            v = float("nan") if v is None else v * scale
            vals.append(v)
            errs[0].append(0.0 if not ci else v - ci[0] * scale)
            errs[1].append(0.0 if not ci else ci[1] * scale - v)
        ax.bar(range(len(rows)), vals, yerr=errs, capsize=3, color="#4c72b0")
        ax.set_xticks(range(len(rows)), names, rotation=30, ha="right")
        ax.set_title(label)
        ax.axhline(0, color="black", linewidth=0.6)
    fig.tight_layout()
    paths = []
    for ext in ("png", "pdf"):
        path = out / f"ablation.{ext}"
        fig.savefig(path, dpi=120)
        paths.append(path)
    plt.close(fig)
    return paths


def write_ablation_report(record: dict, out: Path) -> list[Path]:
    """``out``/ablation.md, .tex, .png, .pdf and .json from an ablation record (``ablate``'s)."""
    from eadbench.atomic import atomic_write_text
    from eadbench.jsonio import atomic_write_json

    out.mkdir(parents=True, exist_ok=True)
    table = ablation_table(record)
    md = [to_markdown(table)]
    if record.get("command"):
        md += ["", "Regenerate (variants already trained in the output folder are resumed, not retrained):", "",
               "```bash", record["command"], "```"]
    md += ["", "![ablation](ablation.png)"]
    atomic_write_text(out / "ablation.md", "\n".join(md) + "\n")
    atomic_write_text(out / "ablation.tex", to_latex(table))
    atomic_write_json(out / "ablation.json", record)
    return [out / "ablation.md", out / "ablation.tex", out / "ablation.json", *figure(record, out)]
