"""The file format of eadbench's built-in models (``eadbench/builtin/``): float16 safetensors whose
metadata is one sorted JSON entry, read back as float32.

A leaf module (it imports nothing of eadbench but its errors and atomic writes) so that the
networks' loaders (``eadbench.nets.syncnet``, ``eadnet.inference``) can read built-in files
without importing ``eadbench.builtin``, which trains and so imports them: no import cycle.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eadbench.errors import WeightsIntegrityError

FORMAT = "eadbench-builtin/1"


def read(path: str | Path) -> tuple[dict[str, Any], dict[str, str]]:
    """(float32 tensors, metadata) of a built-in safetensors file. float16 -> float32 is exact, so
    every machine gets the same float32 weights."""
    import torch
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    try:
        tensors = load_file(str(path), device="cpu")
        with safe_open(str(path), framework="pt") as fh:
            meta = dict(fh.metadata() or {})
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsIntegrityError(f"{path}: not a readable safetensors file ({type(exc).__name__}: "
                                    f"{str(exc).splitlines()[0][:120] if str(exc) else ''})") from None
    try:
        meta = json.loads(meta.get("eadbench", ""))
    except ValueError:
        meta = {}
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise WeightsIntegrityError(f"{path}: not an eadbench built-in model (no {FORMAT} format tag)")
    return {k: (v.to(torch.float32) if v.dtype == torch.float16 else v) for k, v in tensors.items()}, meta


def write(tensors: dict, meta: dict[str, str], dest: Path) -> Path:
    """``tensors`` as float16 safetensors at ``dest`` (atomically), ``meta`` in one sorted JSON entry."""
    import torch
    from safetensors.torch import save_file

    from eadbench.atomic import atomic_path

    half = {k: (v.detach().to(torch.float16) if v.dtype.is_floating_point else v.detach()).contiguous().clone()
            for k, v in tensors.items()}
    dest.parent.mkdir(parents=True, exist_ok=True)
    # one metadata key holding sorted JSON: safetensors writes its metadata map in hash order, which
    # changes from process to process, and the same weights must give the same file (and sha256)
    with atomic_path(dest) as tmp:
        save_file(half, str(tmp), metadata={"eadbench": json.dumps({"format": FORMAT, **meta}, sort_keys=True)})
    return dest


