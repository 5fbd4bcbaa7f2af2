"""`eadbench run` (stub: implemented in issue 4)."""

from __future__ import annotations

from eadbench.cli.common import not_implemented


def run():
    """Not implemented yet."""
    not_implemented("run", 4)
