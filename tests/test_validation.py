"""Every value a user can get wrong is refused in one line with exit 2 (issue 23, items 2-4 and
part of 7): a damaged summary.json (never exit 1, which CI reads as a regression), metric options
and protocols checked against what each metric declares, check's tolerances and baseline files,
count options such as --limit, and device strings."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from eadbench.cli.main import app
from tests.test_check import make_run

cli = CliRunner()


def _one_line_exit_2(r) -> str:
    """The result is exit 2 with a single error line and no traceback; returns that line."""
    assert r.exit_code == 2, (r.exit_code, r.output)
    assert "Traceback" not in r.output and not isinstance(r.exception, (ValueError, TypeError)), r.output
    errors = [line for line in r.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, r.output
    return errors[0]


@pytest.fixture()
def run_and_baseline(tmp_path):
    rng = np.random.default_rng(0)
    run = make_run(tmp_path / "run", list(7 + rng.normal(0, 1, 6)), 100.0)
    b = tmp_path / "baseline.json"
    assert cli.invoke(app, ["check", str(run), "--baseline", str(b), "--update"]).exit_code == 0
    return run, b


def _edit_summary(run, **entry):
    s = json.loads((run / "summary.json").read_text())
    s["methods"]["eadnet"]["fvd"]["fvd"].update(entry)
    (run / "summary.json").write_text(json.dumps(s))


# ------------------------------------------------------------------------------------------------
# item 2: a damaged summary.json is exit 2 naming the file and the field, in every reader
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("entry", [{"value": "abc"}, {"value": [1]}, {"direction": "sideways"},
                                   {"ci95": "wide"}, {"n_used": "six"}])
def test_damaged_summary_is_exit_2_in_check_and_report(run_and_baseline, tmp_path, entry):
    run, b = run_and_baseline
    _edit_summary(run, **entry)
    field = next(iter(entry))
    for args in (["check", str(run), "--baseline", str(b)], ["report", str(run), "--out", str(tmp_path / "rep")]):
        line = _one_line_exit_2(cli.invoke(app, args))
        assert "summary.json" in line and f"eadnet.fvd.fvd.{field}" in line
    assert not (tmp_path / "rep").exists()


def test_null_value_in_summary_is_still_accepted(run_and_baseline):
    run, b = run_and_baseline
    s = json.loads((run / "summary.json").read_text())
    s["methods"]["eadnet"]["extra"] = {"x": {"value": None, "direction": None}}
    (run / "summary.json").write_text(json.dumps(s))
    r = cli.invoke(app, ["check", str(run), "--baseline", str(b)])
    assert r.exit_code == 0, r.output
