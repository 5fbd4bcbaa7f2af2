"""`eadbench check` (stub: implemented in issue 6)."""

from __future__ import annotations

from eadbench.cli.common import not_implemented


def check():
    """Not implemented yet."""
    not_implemented("check", 6)
