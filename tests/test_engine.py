"""The real-scale engine: one decode and one face track per video, bounded memory on long
videos, the tracking protocols, devices, and the import graph of the packages (issue 14)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from eadbench import config, media, streams
from eadbench.synth import write_dataset

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("engine") / "synth", layout="mead", speakers=1, clips=2,
                         seconds=1.2, size=128, seed=4)


def test_each_video_is_decoded_once_and_tracked_once(data, tmp_path, monkeypatch):
    """2 methods x 2 clips with frame, crop and set-level metrics: every distinct video (the
    staged reference and the static output) is decoded exactly once and tracked exactly once; the
    ground-truth output, a byte copy of the reference, shares the reference's one pass (neither
    decoded nor tracked again). A warm re-run decodes nothing."""
    import eadbench.run as run_mod

    monkeypatch.setenv("EADBENCH_CACHE", str(tmp_path / "cache"))
    streams.STATS["decodes"].clear()
    streams.STATS["tracks"].clear()
    cfg = config.resolve(None, dataset="synth", root=str(data), out=str(tmp_path / "run"), quiet=True,
                         metrics=["ssim", "psnr", "lmd", "emotion", "fvd"], device="cpu")
    cfg.methods = [config.MethodSpec.parse(m) for m in ("ground_truth", "static")]
    res = run_mod.run(cfg, echo=lambda s: None)
    assert not res.failures, res.failures
    out = Path(res.out)
    videos = sorted(str(p) for p in out.glob("inputs/*/real.mp4")) + sorted(str(p) for p in out.glob("videos/*/*.mp4"))
    assert len(videos) == 6
    distinct = [v for v in videos if "/ground_truth/" not in v]
    assert dict(streams.STATS["decodes"]) == {v: 1 for v in distinct}
    assert dict(streams.STATS["tracks"]) == {v: 1 for v in distinct}
    streams.STATS["decodes"].clear()
    again = run_mod.run(cfg, echo=lambda s: None)
    assert not streams.STATS["decodes"] and again.summary == res.summary


LONG = """
import resource, sys
cap = int(sys.argv[3]) * 1024 ** 2
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
from eadbench.cli.main import main
sys.argv = ["eadbench", "score", "--metric", "ssim,psnr", "--fake", sys.argv[1], "--real", sys.argv[2], "--json",
            "--device", "cpu"]
main()
"""
#: virtual memory (MB) a scoring process may use: what `score` needs for a 64-frame clip plus
#: 400 MB. Holding a 60 s 256x256 video as float64 (the code before the streaming engine: two
#: videos, 1500 frames each, about 2.4 GB per copy) exceeds it by far.
MARGIN_MB = 400


def _vsz_mb(args: list[str]) -> float:
    probe = ("import resource, runpy, sys; sys.argv = sys.argv[1:]; "
             "import eadbench.cli.main as m\ntry:\n    m.main()\nexcept SystemExit:\n    pass\n"
             "print('PEAK', open('/proc/self/status').read().split('VmPeak:')[1].split()[0])")
    r = subprocess.run([sys.executable, "-c", probe, "eadbench", *args], capture_output=True, text=True, timeout=300)
    return int(r.stdout.split("PEAK")[-1].split()[0]) / 1024


def test_a_long_video_is_scored_in_bounded_memory(tmp_path):
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (8, 256, 256, 3), dtype=np.uint8)
    short = media.write_video(tmp_path / "short.mp4", (np.roll(base[i % 8], i, axis=1) for i in range(64)))
    long = media.write_video(tmp_path / "long.mp4", (np.roll(base[i % 8], i, axis=1) for i in range(1500)))
    cap = int(_vsz_mb(["score", "--metric", "ssim,psnr", "--fake", str(short), "--real", str(short), "--json",
                       "--device", "cpu"]) + MARGIN_MB)
    r = subprocess.run([sys.executable, "-c", LONG, str(long), str(long), str(cap)], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout)
    assert out[0]["metric"] == "ssim" and out[0]["value"] == pytest.approx(1.0)
    assert out[0]["per_item"]["long"]["frames"] == {"fake": 1500, "real": 1500, "used": 1500}
    assert out[1]["value"] == 100.0  # identical frames: PSNR at its cap


def test_tracking_protocols_are_named_and_recorded(data, tmp_path, monkeypatch):
    from eadbench.faces import TRACKING, track_clip

    monkeypatch.setenv("EADBENCH_CACHE", str(tmp_path / "cache"))
    assert {"mtcnn-full", "mtcnn-fast"} <= set(TRACKING.names())
    assert TRACKING.get("mtcnn-fast").scale(1080, 1920) == pytest.approx(384 / 1920)
    assert TRACKING.get("mtcnn-fast").scale(256, 256) == 1.0  # small frames are detected as they are
    frames = media.read_frames(next(data.rglob("*.mp4")))
    full, fast = track_clip(frames, protocol="mtcnn-full"), track_clip(frames, protocol="mtcnn-fast")
    assert full.protocol == "mtcnn-full@1" and fast.protocol == "mtcnn-fast@1"
    import eadbench.run as run_mod

    cfg = config.resolve(None, dataset="synth", root=str(data), out=str(tmp_path / "r"), quiet=True, metrics=["lmd"],
                         tracking="mtcnn-full", device="cpu")
    cfg.methods = [config.MethodSpec.parse("static")]
    res = run_mod.run(cfg, echo=lambda s: None)
    manifest = json.loads((Path(res.out) / "manifest.json").read_text())
    assert manifest["tracking"]["protocol"] == "mtcnn-full@1" and manifest["device"] == "cpu"
    details = [json.loads(x) for x in (Path(res.out) / "clip_details.jsonl").read_text().splitlines()]
    assert all("face_frames_missing" in d and "multi_face_frames" in d for d in details if d["metric"] == "lmd")


def test_device_choices_are_checked():
    from eadbench.devices import resolve_device
    from eadbench.errors import ChoiceError

    assert resolve_device("cpu") == "cpu"
    import torch

    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ChoiceError, match="--device must be"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ChoiceError, match="CUDA is not available"):
            resolve_device("cuda:0")


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs a CUDA device")
def test_metric_values_on_cuda_equal_cpu(data, tmp_path, monkeypatch):
    import eadbench.run as run_mod

    monkeypatch.setenv("EADBENCH_CACHE", str(tmp_path / "cache"))
    values = {}
    for device in ("cpu", "cuda"):
        cfg = config.resolve(None, dataset="synth", root=str(data), out=str(tmp_path / device), quiet=True,
                             metrics=["ssim", "psnr", "fvd", "emotion", "lmd"], device=device)
        cfg.methods = [config.MethodSpec.parse(m) for m in ("ground_truth", "static")]
        values[device] = run_mod.run(cfg, echo=lambda s: None).summary["methods"]
    for m, ms in values["cpu"].items():
        for k, outs in ms.items():
            for o, e in outs.items():
                if isinstance(e["value"], float):
                    assert values["cuda"][m][k][o]["value"] == pytest.approx(e["value"], rel=1e-4, abs=1e-4), (m, k, o)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
    return out


def _module_of(path: Path) -> str:
    rel = path.relative_to(REPO)
    parts = list(rel.with_suffix("").parts)
    if parts[0] == "models":
        parts = parts[1:]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def test_no_import_cycle_and_networks_apart_from_metrics():
    """The module import graph (every import, also inside functions) has no cycle; nets/ and
    models/eadnet never import eadbench.metrics; `import eadbench` imports no torch."""
    files = [p for p in (REPO / "eadbench").rglob("*.py")] + list((REPO / "models" / "eadnet").rglob("*.py"))
    mods = {_module_of(p): p for p in files}
    graph = {}
    for m, p in mods.items():
        targets = set()
        for imp in _imports(p):
            while imp and imp not in mods:
                imp = imp.rpartition(".")[0]
            if imp and imp != m and not m.startswith(imp + "."):
                targets.add(imp)
        graph[m] = targets
    for m in graph:
        if m.startswith(("eadbench.nets", "eadnet")):
            assert not any(t.startswith("eadbench.metrics") for t in graph[m]), (m, graph[m])
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for t in sorted(graph.get(m, ())):
            if state.get(t) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(t):] + [t]))
            if t not in state:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)


def _hard_clip(path: Path, n_face: int = 20) -> Path:
    """A clip with the hard cases of real footage: the face, then the face gone (it left the
    frame), then two faces, then a cut to another framing of a face."""
    import cv2
    import skimage.data

    img = skimage.data.astronaut()
    face = cv2.resize(img[:256, 96:352], (128, 128))
    blank = np.full_like(face, 40)
    two = cv2.resize(np.concatenate([face, face], axis=1), (128, 64))
    two = np.concatenate([np.full((32, 128, 3), 40, np.uint8), two, np.full((32, 128, 3), 40, np.uint8)])
    other = cv2.resize(img[20:300, 60:340], (128, 128))
    frames = [face] * n_face + [blank] * 10 + [two] * 10 + [other] * 20
    return media.write_video(path, np.stack(frames))


def test_frames_without_a_usable_face_are_counted_per_clip_and_metric(tmp_path, monkeypatch):
    from eadbench.scoring import score

    monkeypatch.setenv("EADBENCH_CACHE", str(tmp_path / "cache"))
    clip = _hard_clip(tmp_path / "hard.mp4")
    res = {r["metric"]: r for r in score(["lmd", "emotion", "ssim"], clip, clip, emotion="happy", device="cpu")}
    for name in ("lmd", "emotion"):
        item = res[name]["per_item"]["hard"]
        assert item["face_frames_missing"] == 10, (name, item)  # the 10 frames without a face
        assert item["multi_face_frames"] == 10  # the 10 frames with two faces
    assert res["lmd"]["value"] == 0 and res["lmd"]["per_item"]["hard"]["frames_dropped"] >= 10
    assert res["ssim"]["value"] == pytest.approx(1.0)  # whole-frame metrics need no face


def test_a_clip_with_too_few_face_frames_is_a_recorded_failure(tmp_path, monkeypatch):
    from eadbench.scoring import score

    monkeypatch.setenv("EADBENCH_CACHE", str(tmp_path / "cache"))
    frames = media.read_frames(_hard_clip(tmp_path / "hard.mp4"))
    frames[5:] = 40  # a face in 5 frames of 60
    clip = media.write_video(tmp_path / "mostly_empty.mp4", frames)
    res = {r["metric"]: r for r in score(["lmd", "psnr"], clip, clip, device="cpu")}
    assert res["lmd"]["error"] and "mostly_empty.mp4: a face was found in only" in res["lmd"]["error"]
    assert res["psnr"]["value"] == 100.0  # the other metric is still reported


def test_one_thread_budget_per_process_split_between_workers(monkeypatch):
    """Issue 24: one thread policy, set in one place. A process that is one of two workers gets half
    the budget for the per-frame pool; torch one intra-op thread (its small per-frame networks spent
    more CPU on two threads than they saved), unless EADBENCH_TORCH_THREADS says otherwise; the BLAS
    libraries one thread; OpenCV no pool of its own inside the frame pool."""
    import cv2
    import torch
    from threadpoolctl import threadpool_info

    from eadbench import threads

    before = torch.get_num_threads(), cv2.getNumThreads()
    monkeypatch.setenv("EADBENCH_THREADS", "4")
    monkeypatch.delenv("EADBENCH_TORCH_THREADS", raising=False)
    monkeypatch.setattr(threads, "_BUDGET", None)
    try:
        assert threads.configure(workers=2) == 2 == threads.budget()
        assert torch.get_num_threads() == 1 and cv2.getNumThreads() == 1
        assert all(p["num_threads"] == 1 for p in threadpool_info() if p["user_api"] == "blas")
        assert threads.configure(workers=2) == 2  # applied once: a second call does not halve it again
        monkeypatch.setenv("EADBENCH_TORCH_THREADS", "2")
        threads.configure(workers=2)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before[0])
        cv2.setNumThreads(before[1])


def test_generators_get_the_whole_thread_budget(monkeypatch):
    """Issue 24/25: scoring runs torch on one thread, but a generator's large networks (EAD-Net)
    get the whole budget while they generate, and the scoring setting comes back after."""
    import torch

    from eadbench import threads

    before = torch.get_num_threads()
    monkeypatch.setattr(threads, "_BUDGET", 2)
    torch.set_num_threads(1)
    try:
        with threads.whole_budget():
            assert torch.get_num_threads() == 2
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


HEAP_PROBE = """
import json, resource
import numpy as np
from eadbench import streams

size = (2 << 20) - (64 << 10)  # below numpy's 4 MiB, where it asks for transparent huge pages


def faults(n=20):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(n):
        a = np.ones(size, np.uint8)  # touches every page
        del a
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


if streams._LIBC is None:
    print(json.dumps(None))
else:
    with streams.heap_temporaries():
        inside = faults()
    print(json.dumps({"inside": inside, "outside": faults(), "pages": size // 4096}))
"""


def test_generation_temporaries_come_from_the_heap_and_the_flat_policy_returns():
    """Issue 24/25: inside ``heap_temporaries`` a large temporary allocated again and again is
    served from glibc's heap (its pages faulted in once); outside, the fixed 128 KB threshold makes
    each a fresh mapping (faulted in every time), which keeps memory flat while streaming. Measured
    in a fresh process: what earlier tests left in this one's heap must not decide it."""
    import json
    import subprocess
    import sys

    import pytest

    r = subprocess.run([sys.executable, "-c", HEAP_PROBE], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])
    if got is None:
        pytest.skip("glibc only")
    inside, outside, pages = got["inside"], got["outside"], got["pages"]
    assert outside >= 5 * pages, (inside, outside)  # fresh mappings: faulted in again and again
    assert inside < 2 * pages, (inside, outside)  # reused heap memory: faulted in about once
