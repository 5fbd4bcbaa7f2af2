"""The ``WeightStore``: the one place networks are loaded, each once per process and device.

It serves files through ``eadbench.weights.files`` (always hash-checked) and records the sha256 of
every file it served, which the run manifest records.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable

from eadbench.devices import resolve_device
from eadbench.weights.files import (
    Located,
    file_sha256,
    is_available,
    load_pickled_model,
    load_state_dict,
    locate,
    verified,
)

_NET_LOCK = threading.RLock()
_NETWORKS: dict[tuple, Any] = {}


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
