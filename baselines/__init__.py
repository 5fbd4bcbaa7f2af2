"""Adapters for published talking-head methods (importable as ``eadbench_baselines``).

Each sub-package drives the method's official repository as a subprocess; see its README.md.
"""

from pathlib import Path

#: run-time fixes for upstream code (``runtime/sitecustomize.py``), for adapters that set ``runtime_dir``
RUNTIME = Path(__file__).resolve().parent / "runtime"
