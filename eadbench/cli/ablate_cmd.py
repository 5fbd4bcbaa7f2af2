"""`eadbench ablate` (stub: implemented in issue 6)."""

from __future__ import annotations

from eadbench.cli.common import not_implemented


def ablate():
    """Not implemented yet."""
    not_implemented("ablate", 6)
