"""Generators (the methods being compared); importing this package fills GENERATORS."""

from __future__ import annotations

import importlib

from eadbench import plugins
from eadbench.generators.base import (
    GENERATORS,
    GenerationError,
    GenerationRequest,
    GenerationResult,
    Generator,
    register_generator,
)

for _m in ("eadbench.generators.ground_truth", "eadbench.generators.static",
           "eadbench.generators.precomputed", "eadbench.generators.command", "eadbench.generators.shifted",
           "eadbench.generators.eadnet",
           "eadbench_baselines.wav2lip", "eadbench_baselines.ip_lap", "eadbench_baselines.musetalk"):
    try:
        importlib.import_module(_m)
    except ModuleNotFoundError as exc:
        if exc.name != _m:
            raise


def _register_plugin(obj: object) -> None:
    if issubclass(obj, Generator) and obj.name not in GENERATORS:
        register_generator(obj)


plugins.load("eadbench.methods", _register_plugin)


def build(name: str, **config) -> Generator:
    return GENERATORS.get(name)(**config)


__all__ = ["GENERATORS", "GenerationError", "GenerationRequest", "GenerationResult", "Generator",
           "register_generator", "build"]
