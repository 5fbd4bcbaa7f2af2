"""One place per concept (issue 27), checked over the source tree with ``ast``: the shared
constants are assigned at module level in one module of eadbench/ and models/ only, and the
run folder's file names are spelled only in eadbench/run/layout.py (everyone else takes them
from there or from ``RunDir``). A second definition or a stray literal fails here, naming where."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TREES = ("eadbench", "models")
LAYOUT = ROOT / "eadbench" / "run" / "layout.py"
ONCE = ("SAMPLES_PER_FRAME", "REAL", "FRAMES")
#: layout.py file names that another folder legitimately shares: a prepared clip's audio.wav
#: (eadbench/prepare.py) is not the run folder's
SHARED = {"audio.wav"}


def _sources() -> dict[Path, ast.Module]:
    return {p: ast.parse(p.read_text(), str(p)) for tree in TREES for p in sorted((ROOT / tree).rglob("*.py"))}


def _module_level_names(tree: ast.Module) -> dict[str, ast.expr | None]:
    """Names assigned at module level (plain, annotated and tuple assignments) -> the value when
    it can be paired with the name."""
    out: dict[str, ast.expr | None] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    out[target.id] = node.value
                elif isinstance(target, ast.Tuple):
                    values = node.value.elts if isinstance(node.value, ast.Tuple) else [None] * len(target.elts)
                    for t, v in zip(target.elts, values):
                        if isinstance(t, ast.Name):
                            out[t.id] = v
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out[node.target.id] = node.value
    return out


def defined_in(sources: dict[Path, ast.Module], name: str) -> list[str]:
    return [str(p.relative_to(ROOT)) for p, tree in sources.items() if name in _module_level_names(tree)]


def run_file_names(layout: ast.Module) -> set[str]:
    """The file names layout.py defines: its module-level string constants with a suffix."""
    return {v.value for v in _module_level_names(layout).values()
            if isinstance(v, ast.Constant) and isinstance(v.value, str) and "." in v.value} - SHARED


def stray_literals(sources: dict[Path, ast.Module], names: set[str]) -> list[str]:
    return [f"{p.relative_to(ROOT)}:{node.lineno}: {node.value!r}"
            for p, tree in sources.items() if p != LAYOUT
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names]


def test_shared_constants_are_defined_in_one_module():
    sources = _sources()
    for name in ONCE:
        where = defined_in(sources, name)
        assert len(where) == 1, f"{name} is assigned at module level in {len(where)} modules: {where}"


def test_run_folder_file_names_are_spelled_only_in_layout():
    sources = _sources()
    names = run_file_names(sources[LAYOUT])
    assert {"summary.json", "per_clip.csv", "failures.csv", "manifest.json"} <= names, names
    strays = stray_literals(sources, names)
    assert not strays, "run-folder file names outside eadbench/run/layout.py (use RunDir):\n" + "\n".join(strays)


def test_the_checks_see_a_violation():
    """The checks above would fail on a second definition or a stray literal (no vacuous pass)."""
    sources = _sources()
    fake = ROOT / "eadbench" / "_violation.py"
    sources[fake] = ast.parse('FRAMES = "frames"\nSR, SAMPLES_PER_FRAME = 16000, 640\n'
                              'def f(root):\n    return root / "summary.json"\n')
    assert len(defined_in(sources, "FRAMES")) == 2
    assert len(defined_in(sources, "SAMPLES_PER_FRAME")) == 2
    assert stray_literals(sources, run_file_names(sources[LAYOUT])) == ["eadbench/_violation.py:4: 'summary.json'"]
