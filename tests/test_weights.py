"""The weight store: published hashes pinned, downloads verified before they land, and one
network load per process and device."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from eadbench import weights
from eadbench.errors import WeightsIntegrityError


def test_the_published_hashes_are_pinned():
    assert weights.WEIGHTS.get("syncnet-v2").sha256 == (
        "961e8696f888fce4f3f3a6c3d5b3267cf5b343100b238e79b2659bff2c605442")
    assert weights.WEIGHTS.get("syncnet-v2").size == 54_573_114
    assert weights.WEIGHTS.get("inception-fid").sha256.startswith("6726825d")
    assert weights.WEIGHTS.get("alexnet").sha256.startswith("7be5be79")


def _spec_at(monkeypatch, url: str, sha256: str, size: int):
    spec = dataclasses.replace(weights.WEIGHTS.get("facenet-vggface2"), url=url, sha256=sha256, size=size,
                               sha256_prefix=None, library_dirs=(), min_size=0)
    monkeypatch.setitem(weights.WEIGHTS._items, "facenet-vggface2", spec)
    return spec


def test_fetch_verifies_a_download_before_it_lands(tmp_path, monkeypatch):
    monkeypatch.setenv("EADBENCH_CACHE", str(tmp_path / "cache"))
    payload = b"weights" * 1000
    src = tmp_path / "published.pt"
    src.write_bytes(payload)
    wd = tmp_path / "w"
    # a download whose hash does not match: refused, and nothing is left where a run would look
    _spec_at(monkeypatch, src.as_uri(), "0" * 64, len(payload))
    with pytest.raises(WeightsIntegrityError, match="does not match its published sha256.*nothing was saved"):
        weights.fetch("facenet-vggface2", wd, progress=False)
    assert not any(wd.iterdir())  # no file, no partial
    # the right one lands, atomically, under its official name
    _spec_at(monkeypatch, src.as_uri(), hashlib.sha256(payload).hexdigest(), len(payload))
    loc = weights.fetch("facenet-vggface2", wd, progress=False)
    assert loc.path == wd / "20180402-114759-vggface2.pt" and loc.path.read_bytes() == payload
    assert [p.name for p in wd.iterdir()] == [loc.path.name]


def test_a_file_of_the_wrong_size_fails_its_hash_check(tmp_path):
    (tmp_path / "syncnet_v2.model").write_bytes(b"x" * 10)
    with pytest.raises(WeightsIntegrityError, match="does not match the published"):
        weights.verified("syncnet-v2", tmp_path)


def test_networks_load_once_per_process_and_device(tmp_path, monkeypatch):
    store = weights.WeightStore(device="cpu")
    calls = []

    def build(s):
        calls.append(1)
        import torch

        return torch.nn.Linear(2, 2)

    a = store.network("test-net", ("i3d-kinetics-400",), build)
    b = weights.WeightStore(device="cpu").network("test-net", ("i3d-kinetics-400",), build)
    assert a is b and len(calls) == 1 and "i3d-kinetics-400" in store.served
