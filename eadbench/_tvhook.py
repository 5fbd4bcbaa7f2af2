"""The import hook that runs eadbench's torchvision fix (``eadbench._torchvision``) just before
torchvision is first imported, by anyone, in any order.

``install()`` puts a finder at the front of ``sys.meta_path``: it does nothing for every other
module, and when ``torchvision`` is looked up it removes itself and applies the fix (which
imports torch and checks whether torchvision's compiled ops load; only when they cannot are
the two operator schemas declared). ``import eadbench`` installs it; ``scripts/install.sh``
also writes a startup ``.pth`` file into the virtual environment that installs it at
interpreter start, but only when the installed torchvision needs the fix
(``eadbench._tvhook.main(["--install"])``); on a machine whose torchvision works nothing is written.
"""

from __future__ import annotations

import importlib.abc
import sys
from pathlib import Path

PTH_NAME = "eadbench-torchvision-fix.pth"
PTH_LINE = "import eadbench._tvhook as _eadbench_tvhook; _eadbench_tvhook.install()\n"


class TorchvisionFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "torchvision":
            uninstall()
            from eadbench._torchvision import ensure_torchvision_importable

            ensure_torchvision_importable()
        return None  # the normal finders import the module itself


def install() -> None:
    if "torchvision" in sys.modules or any(isinstance(f, TorchvisionFinder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, TorchvisionFinder())


def uninstall() -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, TorchvisionFinder)]


def write_startup_hook(site_dir: str | Path, needed: bool) -> Path | None:
    """Write the ``.pth`` into ``site_dir`` when ``needed``; otherwise remove one left from before."""
    path = Path(site_dir) / PTH_NAME
    if not needed:
        path.unlink(missing_ok=True)
        return None
    path.write_text(PTH_LINE)
    return path


def main(argv: list[str] | None = None) -> int:
    import site
    import subprocess

    args = argv if argv is not None else sys.argv[1:]
    if args != ["--install"]:
        print("usage: main(['--install'])", file=sys.stderr)
        return 2
    # the check runs in a fresh interpreter, so no hook of this process can skew it
    probe = subprocess.run([sys.executable, "-c", "import eadbench._torchvision as t; print(t.needs_patch())"],
                           capture_output=True, text=True, env={"EADBENCH_NO_TORCHVISION_PATCH": "1",
                                                                **__import__("os").environ})
    needed = probe.stdout.strip() == "True"
    written = write_startup_hook(site.getsitepackages()[0], needed)
    print(f"torchvision fix: {'startup hook ' + str(written) if written else 'not needed, nothing installed'}")
    return 0
