"""One eadbench process per output folder: an exclusive lock file with its owner's pid and host.

``run``, ``prepare`` and ``synth`` take the lock of the folder they write before touching it
(under torchrun only rank 0 does), so a second command on the same folder stops at once with
one line naming the owner, instead of overwriting or deleting the first one's work. The lock
is an ``fcntl.flock`` on ``<folder>/.eadbench.lock`` (or ``.<name>.eadbench.lock`` beside a
folder that does not exist yet): the kernel releases it when its process dies, so a lock left
by a killed process is recognised as stale (its pid no longer runs) and taken over with a note.
On exit the file is emptied, not deleted (an empty lock file is a free folder).
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from eadbench.errors import FolderLockedError, OutputFolderError

LOCK_NAME = ".eadbench.lock"


def lock_path_for(folder: Path, inside: bool = True) -> Path:
    """The lock file of ``folder``: inside it, or beside it (for a folder swapped in whole)."""
    return folder / LOCK_NAME if inside else folder.parent / f".{folder.name}{LOCK_NAME}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_owner(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _describe(owner: dict) -> str:
    if not owner:
        return "another eadbench process"
    return (f"pid {owner.get('pid')} on host {owner.get('host')} ({owner.get('command', 'eadbench')}, "
            f"since {owner.get('started', '?')})")


@contextmanager
def folder_lock(folder: str | Path, command: str, inside: bool = True,
                note: Callable[[str], None] | None = None) -> Iterator[Path]:
    """Hold the exclusive lock of ``folder`` for the block; FolderLockedError (exit 2) when
    another live process holds it. ``note`` receives a line when a stale lock is taken over."""
    folder = Path(folder)
    path = lock_path_for(folder, inside)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise OutputFolderError(f"cannot create the lock file {path}: {exc.strerror or exc}") from None
    fh = os.fdopen(fd, "r+")
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = _read_owner(path)
            raise FolderLockedError(f"{folder} is in use by {_describe(owner)}; wait for it to finish or "
                                    "choose another folder") from None
        previous = _read_owner(path)
        if previous and note is not None:
            stale = previous.get("host") != socket.gethostname() or not _pid_alive(int(previous.get("pid", 0)))
            if stale:
                note(f"note: took over a stale lock on {folder} left by {_describe(previous)}")
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "command": command,
                             "argv": sys.argv[1:8],
                             "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}) + "\n")
        fh.flush()
        try:
            yield path
        finally:
            # emptied, not deleted: deleting would let a process that opened the old file
            # and one that creates a new one both hold "the" lock
            fh.seek(0)
            fh.truncate()
            fh.flush()
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    finally:
        fh.close()
