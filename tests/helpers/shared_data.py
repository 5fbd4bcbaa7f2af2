"""Where the tests find the shared real data (never copied into the repository).

``$EADBENCH_SHARED`` when set, else ``shared/`` beside the repository root (the checkout's
parent folder: /work/shared for /work/main and for a worktree such as /work/wt-describe), else
/work/shared. Tests that need it skip with the path they looked at when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def shared_root() -> Path:
    env = os.environ.get("EADBENCH_SHARED")
    if env:
        return Path(env)
    beside = REPO.parent / "shared"
    return beside if beside.exists() else Path("/work/shared")


def real_data() -> Path:
    """The folder of real clips: ``<shared>/data/real``."""
    return shared_root() / "data" / "real"
