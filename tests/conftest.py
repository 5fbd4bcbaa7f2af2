"""Test-wide settings: offline hub, a private cache, and shared synthetic data."""

from __future__ import annotations

import os

# Set before anything imports transformers / huggingface_hub (a hub lookup would retry ~20 s).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

import pytest  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Keep eadbench's cache (features, built-in data) inside the test session's tmp dir."""
    cache = tmp_path_factory.mktemp("eadbench-cache")
    old = os.environ.get("EADBENCH_CACHE")
    os.environ["EADBENCH_CACHE"] = str(cache)
    yield cache
    if old is None:
        os.environ.pop("EADBENCH_CACHE", None)
    else:
        os.environ["EADBENCH_CACHE"] = old
