"""The README's code is run: the "Use from Python" example (a validation loop, explicit weights
folder, two gloo processes whose metric states sync) and the "Extending eadbench" guides (a new
metric, a new method, a new dataset), each exactly as printed there."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def block(tag: str) -> str:
    """The ```python block of the README whose first line is ``# readme: <tag>``."""
    for code in re.findall(r"```python\n(.*?)```", README.read_text(), re.S):
        if code.startswith(f"# readme: {tag}\n"):
            return code
    raise AssertionError(f"README has no python block tagged {tag!r}")


def _run(code: str, tmp_path: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    script = tmp_path / "example.py"
    script.write_text(code)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "EADBENCH_CACHE": str(tmp_path / "cache")}
    return subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=timeout, env=env)


@pytest.mark.parametrize("tag", ["use-from-python", "guide-metric", "guide-method", "guide-dataset"])
def test_readme_example_runs_as_printed(tag, tmp_path):
    r = _run(block(tag), tmp_path)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert "OK" in r.stdout, r.stdout[-2000:]
