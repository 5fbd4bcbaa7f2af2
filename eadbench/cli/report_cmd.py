"""`eadbench report` (stub: implemented in issue 6)."""

from __future__ import annotations

from eadbench.cli.common import not_implemented


def report():
    """Not implemented yet."""
    not_implemented("report", 6)
