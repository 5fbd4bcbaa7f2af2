"""One eadbench process per output folder, and no command writes into a folder it does not own.

Every command that writes an output folder (``run``, ``synth``, ``prepare``, ``robustness``,
``probe lipleak``, ``ablate``, ``report``, the built-in caches) takes the lock of that folder
before touching it (under torchrun only rank 0 does), so a second command on the same folder,
whichever it is, stops at once with one line naming the owner instead of overwriting or
deleting the first one's work. There is one convention: the lock is an ``fcntl.flock`` on
``<folder>/.eadbench.lock``, inside the folder (never beside it, so a refused command leaves
nothing in the parent folder). The kernel releases it when its process dies, so a lock left by
a killed process is recognised as stale (its pid no longer runs) and taken over with a note.
On exit the file is emptied, not deleted (an empty lock file is a free folder).

``claim_folder`` adds ownership: a folder is written only when it is new, empty, or carries the
owner marker (``.eadbench-owner``) of the same command; any other non-empty folder is refused
(exit 2) before anything is written in it, so a user's same-named files are never replaced.
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

from eadbench.atomic import LOCK_NAME, clean_temp_files, ensure_folder, is_empty_dir, pid_alive
from eadbench.errors import FolderLockedError, OutputFolderError
from eadbench.jsonio import atomic_write_json

OWNER_NAME = ".eadbench-owner"  # {"command": "eadbench run", ...}: which command owns the folder


def _read_owner(path: Path) -> dict:
    try:
        owner = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return owner if isinstance(owner, dict) else {}


def _describe(owner: dict) -> str:
    if not owner:
        return "another eadbench process"
    return (f"pid {owner.get('pid')} on host {owner.get('host')} ({owner.get('command', 'eadbench')}, "
            f"since {owner.get('started', '?')})")


@contextmanager
def folder_lock(folder: str | Path, command: str, note: Callable[[str], None] | None = None) -> Iterator[Path]:
    """Hold the exclusive lock of ``folder`` (created if absent) for the block; FolderLockedError
    (exit 2) when another live process holds it. ``note`` receives a line when a stale lock is
    taken over."""
    folder = Path(folder)
    path = folder / LOCK_NAME
    try:
        folder.mkdir(parents=True, exist_ok=True)
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
            stale = previous.get("host") != socket.gethostname() or not pid_alive(int(previous.get("pid", 0)))
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


def folder_owner(folder: Path) -> str | None:
    """The command named by ``folder``'s owner marker ("" for an unreadable one; None: no marker)."""
    marker = folder / OWNER_NAME
    if not marker.is_file():
        return None
    command = _read_owner(marker).get("command")
    return command if isinstance(command, str) else ""


def wrote(name: str, key: str) -> Callable[[Path], bool]:
    """A ``legacy`` test for ``check_owner``: the folder holds ``name``, a JSON mapping with
    ``key`` (the record a command wrote there before folders carried an owner marker)."""
    return lambda folder: key in _read_owner(folder / name)


def check_owner(folder: str | Path, command: str, legacy: Callable[[Path], bool] | None = None) -> None:
    """Refuse (OutputFolderError, exit 2) a folder that ``command`` may not write: anything but a
    new folder, an empty one (a free lock file aside) or one whose owner marker names ``command``.
    ``legacy`` recognises a folder ``command`` wrote before it left a marker. Writes nothing."""
    folder = Path(folder)
    if not folder.exists() and not folder.is_symlink():
        return
    if not folder.is_dir():
        raise OutputFolderError(f"{folder} exists and is not a folder; choose another output for {command}")
    try:
        if is_empty_dir(folder):
            return
    except OSError as exc:
        raise OutputFolderError(f"cannot read the folder {folder}: {exc.strerror or exc}") from None
    owner = folder_owner(folder)
    if owner == command or (owner is None and legacy is not None and legacy(folder)):
        return
    if owner:
        raise OutputFolderError(f"{folder} was written by {owner}, not {command}; choose another folder")
    raise OutputFolderError(f"{folder} is not empty and was not written by {command} (no {OWNER_NAME}); "
                            "choose a new or empty folder (nothing in it is deleted)")


@contextmanager
def claim_folder(folder: str | Path, command: str, what: str, note: Callable[[str], None] | None = None,
                 legacy: Callable[[Path], bool] | None = None) -> Iterator[Path]:
    """Own ``folder`` for the block: its ownership checked before anything is written (nothing is
    created in a refused folder), the folder created (``what`` names it in errors), its lock taken,
    the check repeated under the lock, the owner marker written before the block writes, and the
    temporary files a killed earlier command left removed."""
    folder = Path(folder)
    check_owner(folder, command, legacy)
    ensure_folder(folder, what)
    with folder_lock(folder, command, note=note):
        check_owner(folder, command, legacy)  # another command may have written it meanwhile
        if folder_owner(folder) != command:
            atomic_write_json(folder / OWNER_NAME, {"command": command})
        clean_temp_files(folder)  # what a killed run of it left
        yield folder
