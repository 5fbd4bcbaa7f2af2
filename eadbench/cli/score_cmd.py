"""`eadbench score` (stub: implemented in issue 3)."""

from __future__ import annotations

from eadbench.cli.common import not_implemented


def score():
    """Not implemented yet."""
    not_implemented("score", 3)
