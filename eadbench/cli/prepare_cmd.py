"""`eadbench prepare` (stub: implemented in issue 2)."""

from __future__ import annotations

from eadbench.cli.common import not_implemented


def prepare():
    """Not implemented yet."""
    not_implemented("prepare", 2)
