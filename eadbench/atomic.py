"""Crash-safe file writes: everything eadbench writes goes to a temporary name beside its
destination and is renamed onto it only when complete, so a kill never leaves a half-written
file under a real name (which a resumed run would take for finished work)."""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator


@contextmanager
def atomic_path(path: str | Path) -> Iterator[str]:
    """Yield a temporary file name in ``path``'s folder; rename it onto ``path`` when the block
    ends normally, delete it when the block raises."""
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        fh.write(text)


def atomic_write_json(path: str | Path, obj: Any, default: Callable[[Any], Any] | None = None,
                      indent: int = 2) -> None:
    atomic_write_text(path, json.dumps(obj, indent=indent, sort_keys=True, default=default) + "\n")
