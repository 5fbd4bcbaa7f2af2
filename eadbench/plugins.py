"""Third-party extensions found through Python entry points, one group per registry:

    [project.entry-points."eadbench.methods"]    mymethod = "my_pkg.method"      # a module or a Generator class
    [project.entry-points."eadbench.metrics"]    mymetric = "my_pkg.metric"      # a module registering a metric
    [project.entry-points."eadbench.datasets"]   mydata = "my_pkg.dataset"       # a module registering a dataset

Loading an entry point imports its module, whose ``@register_...`` decorators fill the
registry; an entry point that names a class is registered with ``register``. A plug-in that
fails to load is a one-line warning, never a broken eadbench.
"""

from __future__ import annotations

import warnings
from typing import Callable


def load(group: str, register: Callable[[object], None] | None = None) -> list[str]:
    """Load every entry point of ``group``; returns the names loaded."""
    from importlib.metadata import entry_points

    loaded = []
    for ep in entry_points(group=group):
        try:
            obj = ep.load()
        except Exception as exc:  # noqa: BLE001 - a broken plug-in must not break eadbench
            warnings.warn(f"{group} plug-in {ep.name} ({ep.value}) failed to load: {exc}", stacklevel=2)
            continue
        if register is not None and isinstance(obj, type):
            register(obj)
        loaded.append(ep.name)
    return loaded
