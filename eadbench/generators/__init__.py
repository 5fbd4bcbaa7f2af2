"""Generators (the methods being compared); importing this package fills GENERATORS."""

from __future__ import annotations

import importlib

from eadbench.generators.base import (
    GENERATORS, GenerationError, GenerationRequest, GenerationResult, Generator, register_generator,
)

for _m in ("eadbench.generators.ground_truth", "eadbench.generators.static",
           "eadbench.generators.precomputed", "eadbench.generators.command",
           "eadbench.generators.eadnet",
           "eadbench_baselines.wav2lip", "eadbench_baselines.ip_lap", "eadbench_baselines.musetalk"):
    try:
        importlib.import_module(_m)
    except ModuleNotFoundError as exc:
        if exc.name != _m:
            raise


def _load_entry_points() -> None:
    """Third-party methods: a package that declares an ``eadbench.methods`` entry point (its
    value a module, or a Generator subclass) is imported, which registers its generators."""
    from importlib.metadata import entry_points

    for ep in entry_points(group="eadbench.methods"):
        try:
            obj = ep.load()
        except Exception as exc:  # noqa: BLE001 - a broken plug-in must not break eadbench
            import warnings

            warnings.warn(f"method plug-in {ep.name} ({ep.value}) failed to load: {exc}", stacklevel=2)
            continue
        if isinstance(obj, type) and issubclass(obj, Generator) and obj.name not in GENERATORS:
            register_generator(obj)


_load_entry_points()


def build(name: str, **config) -> Generator:
    return GENERATORS.get(name)(**config)


__all__ = ["GENERATORS", "GenerationError", "GenerationRequest", "GenerationResult", "Generator",
           "register_generator", "build"]
