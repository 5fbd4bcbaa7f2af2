"""JSON in and out, one way everywhere: numpy-aware encoding that never writes NaN/Infinity (not
valid JSON; null instead) and reads that fail in one line.

JSON files are written with ``atomic_write_json``: ``dumps`` written atomically through
``eadbench.atomic``, so a kill never leaves half a file under the real name.

Every JSON file eadbench reads back (summary.json, baselines, meta.json, manifests, cached
scores) goes through ``load_json``, so a truncated, empty, binary or wrongly shaped file is a
``CorruptFileError`` (exit 2) naming the file, never a decoder traceback.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Callable

from eadbench.atomic import atomic_write_text
from eadbench.errors import CorruptFileError


def to_jsonable(o: Any) -> Any:
    """``default=`` hook for json.dumps: numpy scalars and arrays, paths; anything else is an error."""
    import numpy as np

    if isinstance(o, (np.floating, np.integer, np.bool_)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def to_jsonable_or_str(o: Any) -> Any:
    """As ``to_jsonable`` but anything unknown becomes its ``str`` (for free-form details)."""
    try:
        return to_jsonable(o)
    except TypeError:
        return str(o)


def finite(obj: Any) -> Any:
    """``obj`` with every NaN/Infinity (plain or numpy, in dicts, lists and arrays) as None: what
    JSON can hold for "no value" (the reason is carried beside it)."""
    import numpy as np

    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, (np.integer, np.bool_)):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return finite(obj.tolist())
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


def dumps(obj: Any, indent: int | None = 2, lenient: bool = False, sort_keys: bool = True,
          default: Callable[[Any], Any] | None = None) -> str:
    """The one JSON writer: always valid JSON (non-finite numbers become null, ``allow_nan=False``
    guards the rest); ``lenient`` writes unknown objects as their ``str``."""
    return json.dumps(finite(obj), indent=indent, sort_keys=sort_keys, allow_nan=False,
                      default=default or (to_jsonable_or_str if lenient else to_jsonable))


def atomic_write_json(path: str | Path, obj: Any, default: Callable[[Any], Any] | None = None,
                      indent: int = 2) -> None:
    """``obj`` as JSON (``dumps``: numpy scalars/arrays as plain numbers, NaN as null) in ``path``,
    written atomically."""
    atomic_write_text(path, dumps(obj, indent=indent, default=default) + "\n")


def load_json(path: str | Path, what: str = "JSON file", expect: type | None = dict) -> Any:
    """Parse ``path``; CorruptFileError with one line when it is unreadable or not ``expect``."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise CorruptFileError(f"{what} {p} does not exist") from None
    except OSError as exc:
        raise CorruptFileError(f"cannot read {what} {p}: {exc.strerror or exc}") from None
    if not raw.strip():
        raise CorruptFileError(f"{what} {p} is empty")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise CorruptFileError(f"{what} {p} is not text (binary content)") from None
    except json.JSONDecodeError as exc:
        raise CorruptFileError(f"{what} {p} is not valid JSON ({exc.msg} at line {exc.lineno}); "
                               "truncated or damaged?") from None
    if expect is not None and not isinstance(data, expect):
        raise CorruptFileError(f"{what} {p} holds a {type(data).__name__}, expected a {expect.__name__}")
    return data
