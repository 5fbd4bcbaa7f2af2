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


class OutputFolderError(EadbenchError):
    """An output folder cannot be used: not writable, or holding files eadbench did not write."""


class FolderLockedError(EadbenchError):
    """Another eadbench process holds the folder's lock (one run per folder at a time)."""


class ChoiceError(EadbenchError, ValueError):
    """An unknown emotion, view, calm policy, preset or other named choice, or an out-of-range
    setting (also a ValueError, so library callers may catch either)."""


class CorruptFileError(EadbenchError):
    """A file eadbench reads (summary, baseline, meta.json) is truncated, binary or wrongly shaped."""


class CheckInputError(EadbenchError):
    """`eadbench check` cannot compare (another split or protocol, a metric missing from the run)."""


class GroupsFileError(EadbenchError):
    """A group-label CSV (`eadbench report --groups`) that cannot be joined on clip_id."""


class GenerationError(EadbenchError):
    """A method failed to produce a usable video for one clip (recorded, the run goes on).

    ``log_tail`` and ``command``: what a wrapped program printed last and how it was run, kept in
    the clip's failure record (empty for failures that ran nothing)."""

    def __init__(self, message: str, log_tail: str = "", command: list[str] | None = None):
        super().__init__(message)
        self.log_tail = log_tail
        self.command = command


class ResourceError(EadbenchError):
    """The machine ran out of memory (or another resource) on an input; the message says which."""


def short_reason(exc: BaseException, limit: int = 200) -> str:
    """``Type: first line of the message`` (at most ``limit`` characters): how an unexpected
    exception is recorded as a per-clip failure reason or printed as a one-line error."""
    text = str(exc).strip()
    first = text.splitlines()[0][:limit] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def is_out_of_memory(exc: BaseException) -> bool:
    """MemoryError, or torch/numpy allocator failures that surface as RuntimeError."""
    if isinstance(exc, MemoryError):
        return True
    msg = str(exc)
    return isinstance(exc, RuntimeError) and ("can't allocate memory" in msg or "out of memory" in msg
                                              or "Unable to allocate" in msg)
