"""`eadbench report` on a real (small) run: tables in three formats with best/second marks,
figures, and the HTML page checked in headless chromium (loads without console errors, tables
present, a video plays through the shared control)."""

from __future__ import annotations

import sys
import textwrap

import pytest

from eadbench import config
from eadbench import run as runner
from eadbench.report import write_report
from eadbench.synth import write_dataset
from tests.helpers.headless import Browser, chromium

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
    assert any("per_emotion" in p.name for p in written["md"])


@pytest.mark.skipif(chromium() is None, reason="chromium not installed (scripts/install.sh installs it)")
def test_html_page_in_headless_chromium(run_dir, tmp_path):
    out = tmp_path / "page"
    write_report([run_dir], out, formats=("html",), figures=False)
    b = Browser()
    try:
        b.open((out / "index.html").resolve().as_uri() + "?selftest")
        played = b.wait_for("(document.body && (document.body.dataset.selftest || '').startsWith('played'))"
                            " ? document.body.dataset.selftest : ''", timeout=30)
        assert played.startswith("played"), b.eval("document.body.dataset.selftest")
        assert b.eval("document.querySelectorAll('table.metrics').length") >= 1
        assert b.eval("document.querySelectorAll('.clip').length") == 4
        # the emotion filter hides clips of other emotions
        emo = b.eval("document.querySelector('.clip').dataset.emotion")
        b.eval(f"var s=document.getElementById('f-emotion'); s.value='{emo}'; s.dispatchEvent(new Event('change'))")
        shown = b.eval("Array.from(document.querySelectorAll('.clip')).filter(g=>g.style.display!=='none').length")
        assert 1 <= shown < 4
        assert b.console_errors() == []
    finally:
        b.close()


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
