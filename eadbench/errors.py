"""Typed errors: every one carries a single line a user can act on.

The CLI prints ``str(error)`` and exits with ``error.exit_code``; it never shows a traceback
for these.
"""

from __future__ import annotations


class EadbenchError(Exception):
    """Base class. ``exit_code`` follows the CLI convention: 2 bad input, 3 missing weights."""

    exit_code = 2


class MediaError(EadbenchError):
    """A video or audio file cannot be used (missing, empty, truncated, no stream, ...)."""

    def __init__(self, path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class DatasetLayoutError(EadbenchError):
    """A dataset root is missing, empty or not laid out as the adapter expects."""


class FaceNotFoundError(EadbenchError):
    """No usable face in an image or clip."""


class WeightsMissingError(EadbenchError):
    """A pretrained file is absent; the message says which, where to put it, where it is published."""

    exit_code = 3


class WeightsIntegrityError(EadbenchError):
    """A weight file exists but its hash does not match, or it would need an untrusted unpickle."""

    exit_code = 3


class MetricInputError(EadbenchError):
    """Inputs a metric cannot score (too short, mismatched pairs, different sizes, ...)."""


class ConfigError(EadbenchError):
    """A configuration or checkpoint does not fit what was asked."""
