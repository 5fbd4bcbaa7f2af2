"""Crash-safe, owner-aware writes: the one place where eadbench creates, replaces or removes files.

Rules every command follows (issue: "nothing lost"):

* a file is written to a temporary name beside its destination and renamed onto it only when
  complete, so a kill never leaves a half-written file under a real name (which a resumed run
  would take for finished work); the temporary name carries its writer's pid and host, so the
  next command on the folder removes what a killed writer left (``clean_temp_files``) and nothing else;
* a folder is built under a hidden temporary name (``.<name>.<random>.partial``, holding a
  ``PARTIAL_MARKER`` file) and swapped into place; a partial left by a ``kill -9`` is
  recognised by that marker and removed by the next run (``clean_partials``);
* an existing folder is replaced only when it carries the marker of the eadbench command that
  wrote it and holds nothing else (``replace_folder``); eadbench never removes a path it did
  not create;
* files and folders get the permissions the user's umask gives (``mkstemp``/``mkdtemp``
  create them private, 0600/0700, which is fixed here).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from eadbench.errors import EadbenchError, OutputFolderError

PARTIAL_MARKER = ".eadbench-partial"
LOCK_NAME = ".eadbench.lock"  # an output folder's lock file (eadbench.locking): never counts as content


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _umask()
_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
#: ``.<name>.<pid>@<host>.<random>.part``: the temporary name of ``atomic_path`` (mkstemp's random part has no dot)
_TEMP = re.compile(r"^\..+\.(\d+)@([0-9a-f]{8})\.[^.]+\.part$")


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def honour_umask(path: str | Path, folder: bool = False) -> None:
    """Give a file made by mkstemp (0600) or a folder made by mkdtemp (0700) the usual mode."""
    os.chmod(path, (0o777 if folder else 0o666) & ~_UMASK)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[str]:
    """Yield a temporary file name in ``path``'s folder; rename it onto ``path`` when the block
    ends normally, delete it when the block raises."""
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.{os.getpid()}@{_HOST}.", suffix=".part")
    os.close(fd)
    try:
        yield tmp
        honour_umask(tmp)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        fh.write(text)


# ---------------------------------------------------------------------------------------------
# folders
# ---------------------------------------------------------------------------------------------
def partial_dir(parent: str | Path, name: str) -> Path:
    """A new hidden folder ``parent/.<name>.<random>.partial`` marked as eadbench's own partial."""
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=parent, prefix=f".{name}.", suffix=".partial"))
    honour_umask(tmp, folder=True)
    (tmp / PARTIAL_MARKER).write_text(f"{os.getpid()}\n")
    return tmp


def clean_partials(parent: str | Path, name: str | None = None) -> list[Path]:
    """Remove the partial folders a killed run left in ``parent`` (only folders carrying the
    partial marker, so nothing else is ever touched). Call it under the folder's lock."""
    parent = Path(parent)
    removed: list[Path] = []
    if not parent.is_dir():
        return removed
    pattern = f".{name}.*.partial" if name else ".*.partial"
    for d in parent.glob(pattern):
        if d.is_dir() and (d / PARTIAL_MARKER).is_file():
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    return removed


def clean_temp_files(folder: str | Path) -> list[Path]:
    """Remove the temporary files of ``atomic_path`` below ``folder`` whose writer (pid on this
    host) no longer runs: what a killed command left. Any other file is kept. Call it under the
    folder's lock."""
    removed = []
    for p in Path(folder).rglob(".*.part"):
        m = _TEMP.match(p.name)
        if m and m.group(2) == _HOST and p.is_file() and not p.is_symlink() and not pid_alive(int(m.group(1))):
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def finish_partial(tmp: Path) -> None:
    (tmp / PARTIAL_MARKER).unlink(missing_ok=True)


def files_below(folder: str | Path) -> set[str]:
    """Relative paths (POSIX) of every file below ``folder``."""
    folder = Path(folder)
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if not p.is_dir()}


def is_empty_dir(path: Path) -> bool:
    """No entry but (at most) a free lock file."""
    return path.is_dir() and not any(p.name != LOCK_NAME for p in path.iterdir())


def check_replaceable(dest: Path, marker: str, owned: Iterable[str] | None, what: str) -> None:
    """Refuse (OutputFolderError, exit 2) to replace ``dest`` unless it is absent, empty, or
    carries ``marker`` and holds no file outside ``owned`` (None: the marker alone suffices)."""
    if not dest.exists() and not dest.is_symlink():
        return
    if not dest.is_dir() or dest.is_symlink():
        raise OutputFolderError(f"{dest} exists and is not a folder; choose another output for {what}")
    if is_empty_dir(dest):
        return
    if not (dest / marker).is_file():
        raise OutputFolderError(f"{dest} is not empty and was not written by {what} (no {marker}); "
                                "choose a new or empty folder (nothing in it is deleted)")
    if owned is not None:
        foreign = sorted(files_below(dest) - set(owned) - {marker, LOCK_NAME})
        if foreign:
            raise OutputFolderError(f"{dest} holds {len(foreign)} file(s) {what} did not write (e.g. "
                                    f"{foreign[0]}); move them away or choose another folder")


def replace_folder(tmp: Path, dest: Path) -> None:
    """Swap a finished folder ``tmp`` into ``dest`` (absent, empty, or already checked with
    ``check_replaceable``): the old one is renamed aside first and removed only after the new
    one is in place, so a crash leaves either the old or the new folder, never neither."""
    finish_partial(tmp)
    if dest.exists() and not any(dest.iterdir()):
        dest.rmdir()
    old = None
    if dest.exists():
        old = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".old"))
        old.rmdir()
        os.replace(dest, old)
    try:
        os.replace(tmp, dest)
    except BaseException:
        if old is not None:
            os.replace(old, dest)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def ensure_folder(path: str | Path, what: str) -> Path:
    """Create an output folder with a one-line error (exit 2) when that is impossible."""
    p = Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputFolderError(f"cannot create the {what} folder {p}: {exc.strerror or exc}") from None
    if not os.access(p, os.W_OK | os.X_OK):
        raise OutputFolderError(f"the {what} folder {p} is not writable")
    return p


__all__ = ["EadbenchError", "LOCK_NAME", "OutputFolderError", "PARTIAL_MARKER", "atomic_path",
           "atomic_write_text", "check_replaceable", "clean_partials", "clean_temp_files", "ensure_folder",
           "files_below", "finish_partial", "honour_umask", "partial_dir", "pid_alive", "replace_folder"]
