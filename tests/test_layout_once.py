"""One place per concept (issue 27), checked over the source tree with ``ast``: the shared
constants are assigned at module level in one module of eadbench/ and models/ only, and the
run folder's file names are spelled only in eadbench/run/layout.py (everyone else takes them
from there or from ``RunDir``). Video and audio are encoded only in eadbench/media/encode.py (every
stream added, every frame handed to an encoder) and Frechet distances are defined only in
eadbench/metrics/frechet.py. A second definition or a stray literal fails here, naming where."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TREES = ("eadbench", "models")
LAYOUT = ROOT / "eadbench" / "run" / "layout.py"
#: constants with one home each: media's rates and encoder settings, the robustness study's clean
#: label and flag rule, the owner markers of the studies' folders
ONCE = ("SAMPLES_PER_FRAME", "REAL", "FRAMES", "VIDEO_FPS", "AUDIO_RATE", "HEVC_CRF", "LOSSLESS", "CLEAN",
        "FLAG_RULE", "RUN_COMMAND", "PROBE_COMMAND")
#: layout.py file names that another folder legitimately shares: a prepared clip's audio.wav
#: (eadbench/prepare.py) is not the run folder's
SHARED = {"audio.wav"}
MEDIA = ROOT / "eadbench" / "media" / "encode.py"
FRECHET = ROOT / "eadbench" / "metrics" / "frechet.py"
#: the calls that encode: only media/encode.py makes them
ENCODING_CALLS = ("add_stream", "add_stream_from_template")
ENCODED_FRAMES = ("VideoFrame", "AudioFrame")


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


def encoder_calls(sources: dict[Path, ast.Module]) -> list[str]:
    """``x.add_stream(...)``, ``x.add_stream_from_template(...)`` and ``av.VideoFrame`` /
    ``av.AudioFrame`` ``.from_ndarray(...)`` outside media/encode.py."""
    found = []
    for p, tree in sources.items():
        if p == MEDIA:
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            f = node.func
            owner = f.value.attr if isinstance(f.value, ast.Attribute) else getattr(f.value, "id", None)
            if f.attr in ENCODING_CALLS or (f.attr == "from_ndarray" and owner in ENCODED_FRAMES):
                found.append(f"{p.relative_to(ROOT)}:{node.lineno}: {f.attr}")
    return found


def frechet_definitions(sources: dict[Path, ast.Module]) -> list[str]:
    return [f"{p.relative_to(ROOT)}:{node.lineno}: {node.name}" for p, tree in sources.items() if p != FRECHET
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef) and node.name.lower().startswith("frechet")]


def test_encoders_live_in_media_and_frechet_in_metrics_frechet():
    sources = _sources()
    assert encoder_calls({MEDIA: sources[MEDIA]}) == [] and "add_video_stream" in _module_level_fns(sources[MEDIA])
    strays = encoder_calls(sources)
    assert not strays, ("encoding outside eadbench/media/encode.py (use its Codec / rewrite / VideoWriter):\n"
                        + "\n".join(strays))
    assert {"frechet_distance", "frechet_small"} <= _module_level_fns(sources[FRECHET])
    again = frechet_definitions(sources)
    assert not again, "a Frechet distance outside eadbench/metrics/frechet.py:\n" + "\n".join(again)


def _module_level_fns(tree: ast.Module) -> set[str]:
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


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
                              'def f(root):\n    return root / "summary.json"\n'
                              'def frechet_tiny(a, b):\n    return 0.0\n'
                              'def w(c, f):\n    c.add_stream("libx264")\n    av.VideoFrame.from_ndarray(f)\n')
    assert len(defined_in(sources, "FRAMES")) == 2
    assert len(defined_in(sources, "SAMPLES_PER_FRAME")) == 2
    assert stray_literals(sources, run_file_names(sources[LAYOUT])) == ["eadbench/_violation.py:4: 'summary.json'"]
    assert frechet_definitions(sources) == ["eadbench/_violation.py:5: frechet_tiny"]
    assert encoder_calls(sources) == ["eadbench/_violation.py:8: add_stream", "eadbench/_violation.py:9: from_ndarray"]
