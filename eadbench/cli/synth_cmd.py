"""`eadbench synth` (stub: implemented in issue 2)."""

from __future__ import annotations

from eadbench.cli.common import not_implemented


def synth():
    """Not implemented yet."""
    not_implemented("synth", 2)
