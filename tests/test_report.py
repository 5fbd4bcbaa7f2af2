"""`eadbench report` on a real (small) run: tables in three formats with best/second marks,
per-group breakdowns (the run's columns and a user CSV) checked against a plain pandas
computation, figures, and the HTML page checked in a real browser (Playwright driving the system
chromium: loads without console errors, tables present, a video plays through the shared control,
each clip's scores are under its videos, and sorting by a metric puts the worst clip first)."""

from __future__ import annotations

import sys
import textwrap

import pytest

from eadbench import config
from eadbench import run as runner
from eadbench.report import write_report
from eadbench.synth import write_dataset
from tests.helpers.headless import available, browser_page

METHOD = textwrap.dedent("""
    import sys, numpy as np, cv2
    from eadbench import media
    video, out, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    f = media.read_frames(video)
    if mode == "blur":
        f = np.stack([cv2.GaussianBlur(x, (0, 0), 2.0) for x in f])
    else:
        f = np.clip(f.astype(int) + np.random.default_rng(0).normal(0, 25, f.shape), 0, 255).astype(np.uint8)
    media.write_video(out, f)
""")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("report")
    root = write_dataset(d / "synth", layout="mead", speakers=2, clips=2, seconds=1.2, size=128, seed=2)
    script = d / "method.py"
    script.write_text(METHOD)
    methods = ["ground_truth", "static"] + [
        {"name": m, "method": "command", "argv": [sys.executable, str(script), "{video}", "{out}", m]}
        for m in ("blur", "noisy")]
    cfg = config.resolve(None, dataset="synth", root=str(root), out=str(d / "run"), quiet=True,
                         metrics=["ssim", "psnr", "emotion"])
    cfg.methods = [config.MethodSpec.parse(m) for m in methods]
    runner.run(cfg, echo=lambda s: None)
    return d / "run"


def test_tables_figures_and_page(run_dir, tmp_path):
    out = tmp_path / "rep"
    written = write_report([run_dir], out, with_ci=True)
    md = (out / "main.md").read_text()
    assert "SSIM ↑" in md and "Acc_emo (%)" in md
    assert md.count("**") >= 2 and "<u>" in md  # best bold, second underlined among blur/noisy
    assert "split test (synth-mead-seed2" in md and "n failed 0" in md and "±" in md
    tex = (out / "main.tex").read_text()
    assert "\\toprule" in tex and "\\textbf{" in tex and "\\underline{" in tex and "$\\uparrow$" in tex
    assert (out / "main.csv").read_text().startswith("method,")
    assert (out / "confusion.md").exists()
    pngs = {p.stem for p in written["figures"] if p.suffix == ".png"}
    assert {"metrics_bars", "emotion_confusion", "emotion_vs_intensity", "qualitative_grid"} <= pngs
    assert all(p.with_suffix(".pdf").exists() for p in written["figures"] if p.suffix == ".png")
    assert {"per_emotion.md", "per_speaker.md"} <= {p.name for p in written["md"]}


@pytest.mark.skipif(available() is not None, reason=str(available()))
def test_html_page_in_a_real_browser(run_dir, tmp_path):
    import pandas as pd

    out = tmp_path / "page"
    write_report([run_dir], out, formats=("html",), figures=False)
    with browser_page() as page:
        page.goto((out / "index.html").resolve().as_uri() + "?selftest")
        page.wait_for_function("(document.body.dataset.selftest || '').startsWith('played')", timeout=30_000)
        assert page.locator("table.metrics").count() >= 1
        assert page.locator(".clip").count() == 4
        # each clip's scores are under its videos: the blur method's SSIM of the first clip, as written
        per_clip = pd.read_csv(run_dir / "per_clip.csv")
        ssim = per_clip[(per_clip["metric"] == "ssim") & (per_clip["method"] == "blur")].set_index("clip_id")["value"]
        first = page.locator(".clip").first
        shown = first.locator("figure[data-method='blur'] td[data-key='ssim/ssim']").inner_text()
        assert shown == f"{ssim[first.get_attribute('data-clip')]:.4f}"
        # sorting by blur's SSIM, worst first, orders the clips by that value (lowest first)
        page.select_option("select.sort-method", "blur")
        page.select_option("select.sort-key", "ssim/ssim")
        order = page.eval_on_selector_all(".clips > .clip", "els => els.map(e => e.dataset.clip)")
        assert order == list(ssim.sort_values(kind="stable").index)
        page.select_option("select.sort-order", "best")
        order = page.eval_on_selector_all(".clips > .clip", "els => els.map(e => e.dataset.clip)")
        assert order == list(ssim.sort_values(ascending=False, kind="stable").index)
        # the emotion filter hides clips of other emotions
        emo = first.get_attribute("data-emotion")
        page.select_option("select.f-emotion", emo)
        shown_n = page.eval_on_selector_all(".clip", "els => els.filter(g => g.style.display !== 'none').length")
        assert 1 <= shown_n < 4
        assert page.errors == []


def test_group_tables_match_a_plain_computation(run_dir, tmp_path):
    """Per-speaker means over the clips every method scored, their n and bootstrap CIs, as a
    plain pandas computation gives them; a user CSV's column is a grouping too; a group with
    fewer clips than --min-group-n is flagged, not hidden."""
    import numpy as np
    import pandas as pd

    from eadbench.report.groups import FLAG, group_stats, group_table
    from eadbench.results import bootstrap_ci
    from eadbench.run.layout import load_run

    run = load_run(run_dir)
    df = pd.read_csv(run_dir / "per_clip.csv")
    ok = df[(df["status"] == "ok") & df["value"].notna() & (df["metric"] == "ssim")]
    stats = group_stats(run, "speaker").set_index(["group", "method", "key"])
    for speaker, sub in ok.groupby("speaker"):
        wide = sub.pivot(index="clip_id", columns="method", values="value").dropna()
        for method in wide.columns:
            row = stats.loc[(speaker, method, "ssim/ssim")]
            assert row["n"] == len(wide) == 2
            assert row["mean"] == pytest.approx(wide[method].mean(), abs=1e-12)
            ci = bootstrap_ci(wide[method].to_list())
            assert (row["lo"], row["hi"]) == pytest.approx(ci, abs=1e-12)
    table = group_table(run, "speaker", min_n=3)
    assert [c.text for c in table.rows[0][1]][0] == f"2 {FLAG}"  # 2 clips < 3: flagged
    assert any(f.startswith(f"{FLAG}: fewer than 3 clips") for f in table.footnotes)
    assert len(table.rows) == 2 * 4  # every speaker x method is shown
    # a user CSV: clips labelled "a" / "b" by their position
    clips = sorted(df["clip_id"].unique())
    labels = tmp_path / "groups.csv"
    pd.DataFrame({"clip_id": clips, "light": ["a", "b"] * (len(clips) // 2)}).to_csv(labels, index=False)
    out = tmp_path / "rep"
    written = write_report([run_dir], out, formats=("md", "latex"), groups=labels, min_group_n=3)
    names = {p.name for p in written["md"]}
    assert {"per_speaker.md", "per_emotion.md", "per_intensity.md", "per_light.md"} <= names
    md = (out / "per_light.md").read_text()
    want = ok[ok["clip_id"].isin(clips[0::2]) & (ok["method"] == "blur")]["value"]
    assert f"| a · blur | 2 {FLAG} | " in md and f"{np.mean(want):.4f} ±" in md
    assert "\\toprule" in (out / "per_light.tex").read_text()
    pngs = {p.name for p in written["figures"]}
    assert {"per_speaker.png", "per_light.png"} <= pngs


def test_bad_group_files_and_columns_are_one_line_errors(run_dir, tmp_path):
    from eadbench.errors import ChoiceError, GroupsFileError

    cases = {"no_id.csv": "clip,light\nx,a\n", "only_id.csv": "clip_id\nx\n",
             "dup.csv": "clip_id,light\nx,a\nx,b\n", "shadow.csv": "clip_id,emotion\nx,a\n"}
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(GroupsFileError) as e:
            write_report([run_dir], tmp_path / f"out-{name}", groups=tmp_path / name)
        assert "\n" not in str(e.value) and name in str(e.value)
    with pytest.raises(ChoiceError, match="cannot group by lighting"):
        write_report([run_dir], tmp_path / "out-by", by=["lighting"])
    assert not (tmp_path / "out-by").exists()


def test_controls_are_marked_and_never_ranked_best(tmp_path):
    """The example table once ranked the `shifted` control best on every fidelity column: the
    real video, its audio-shifted copy and the still face are controls, never contenders."""
    from eadbench.report.tables import main_table, to_latex, to_markdown
    from eadbench.run.layout import RunRecord

    def entry(v, direction):
        return {"value": v, "direction": direction, "protocol": "p@1", "n_used": 3, "n_failed": 0}

    values = {"ground_truth": (1.0, 0.96), "shifted": (0.98, 0.97), "static": (0.86, 1.07),
              "eadnet": (0.85, 1.00), "mine": (0.80, 1.02)}
    summary = {"dataset": "synth", "split": "test", "n_clips": 3,
               "methods": {m: {"ssim": {"ssim": entry(a, "higher")}, "lse": {"lse_d": entry(b, "lower")}}
                           for m, (a, b) in values.items()}}
    run = RunRecord(tmp_path, summary, {"methods": {}}, None, [])
    table = main_table([run])
    ranks = {m: [c.rank for c in cells] for m, cells in table.rows}
    assert ranks["eadnet"] == [1, 1] and ranks["mine"] == [2, 2]
    assert all(r is None for m in ("ground_truth", "shifted", "static") for r in ranks[m])
    md = to_markdown(table)
    assert "| shifted (control) | 0.9800 |" in md and "| ground\\_truth (control) |" in md
    assert "| eadnet | **0.8500** |" in md
    assert any(f.startswith("controls, shown for reference and never ranked") for f in table.footnotes)
    assert "shifted (control)" in to_latex(table)


def test_table_columns_come_from_the_metric_declarations(monkeypatch):
    """The report's columns are each metric's declared ``columns``, metrics by ``order``; a metric
    registered later (a plugin) that declares none shows its value under its output's name."""
    from eadbench.metrics import METRICS
    from eadbench.metrics.base import LOWER, Evaluator, MetricProtocol, register_metric
    from eadbench.report.tables import DISPLAY

    keys = list(DISPLAY)
    for _, info in METRICS.items():
        for c in info.columns:
            assert DISPLAY[f"{info.name}/{c.output}"] == (c.label, c.decimals, c.scale)
    orders = [METRICS.get(k.split("/")[0]).order for k in keys]
    assert orders == sorted(orders) and keys.index("ssim/ssim") == 0
    monkeypatch.setattr(METRICS, "_items", dict(METRICS._items))  # the registration below is undone after

    @register_metric(name="plugin_mae", direction=LOWER, level="clip", outputs=("mae",), needs=("real",),
                     weights=(), protocols=(MetricProtocol("mae", "1"),), description="a plugin")
    class PluginMAE(Evaluator):
        pass

    assert list(DISPLAY)[-1] == "plugin_mae/mae" and DISPLAY["plugin_mae/mae"] == ("mae", 3, 1.0)
