"""One contract over every registered metric: the torchmetrics class, the functional twin and the
evaluator (what `run` and `score` use) give the same value on the same inputs; ``reset`` forgets;
and the class's states sync across two ``gloo`` processes to the single-process value.

Networks whose real files cannot be downloaded use stand-in weights of the official shapes
(``tests/helpers/standins.py``); the others (I3D, the face mesh, fer) are the real files that
ship in packages. A metric registered without a case here fails its parametrised test.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.faces import fast_crops
from tests.helpers.standins import relax_hashes, write_standins

REPO = Path(__file__).resolve().parents[1]


def _frames(n: int, size: int, seed: int) -> np.ndarray:
    import skimage.data
    from PIL import Image

    rng = np.random.default_rng(seed)
    base = np.asarray(Image.fromarray(skimage.data.astronaut()).resize((size, size)))
    return np.stack([np.clip(np.roll(base, 3 * i, axis=1).astype(int) + rng.normal(0, 12, base.shape), 0, 255)
                     .astype(np.uint8) for i in range(n)])


def _face256(n: int, seed: int) -> np.ndarray:
    import skimage.data

    from eadbench import faces

    img = skimage.data.astronaut()
    b = faces.detect_faces(img)[0].box
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        cx, cy = (b[0] + b[2]) / 2 + rng.normal(0, 2), (b[1] + b[3]) / 2 + rng.normal(0, 2)
        out.append(faces.CROP_PROTOCOLS.get("face256").crop(img, cx, cy, max(b[2] - b[0], b[3] - b[1]) / 2))
    return np.stack(out)


def _speech(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    env = (np.sin(2 * np.pi * 3 * t + seed) > 0).astype(float)
    return (env * 0.4 * np.sin(2 * np.pi * 180 * t) + 0.01 * rng.normal(size=t.size)).astype(np.float32)


_TALKING: dict = {}


def _talking(seed: int, leak: bool) -> tuple[np.ndarray, np.ndarray]:
    """A built-in synthetic talking face (speech, then a silent tail): face256 crops (MTCNN on every
    8th frame, boxes interpolated) and its audio; ``leak``: the silent tail shows talking frames."""
    key = (seed, leak)
    if key not in _TALKING:
        from eadbench.synth import speech
        from eadbench.synth.generate import render_clip

        item = dict(speaker_index=seed, emotion="neutral", level=1, levels=3, sentence=speech.SENTENCES[5])
        frames, audio, _ = render_clip(item, 4.0, 128, 0)
        if leak:
            n = len(frames)
            quiet = np.sqrt(np.pad(audio, (0, max(0, n * 640 - len(audio))))[: n * 640].reshape(n, 640) ** 2
                            ).mean(axis=1) < 0.005
            talking = frames[~quiet]
            frames = frames.copy()
            frames[quiet] = talking[np.arange(quiet.sum()) % len(talking)]
        _TALKING[key] = (fast_crops(frames), audio)
    return _TALKING[key]


def cases() -> dict:
    """metric -> (clips, class kwargs, class updates, functional value thunk). ``clips``: the
    evaluator's inputs, one (meta kwargs, fake view, real view) per clip."""
    import cv2

    import eadbench.metrics.functional as F

    fake, real = _frames(4, 64, 0), _frames(4, 64, 1)
    sets_f = _frames(8, 64, 2)
    sets_r = np.random.default_rng(3).integers(0, 255, (8, 64, 64, 3), dtype=np.uint8)  # far from sets_f
    vids_f = [_frames(16, 48, 10 + i) for i in range(2)]
    vids_r = [_frames(16, 48, 20 + i) for i in range(2)]
    f256, r256 = [_face256(3, 30 + i) for i in range(2)], [_face256(3, 40 + i) for i in range(2)]
    sync = [np.stack([cv2.resize(x, (224, 224)) for x in _frames(24, 96, 50 + i)]) for i in range(2)]
    audio = [_speech(1.0, i) for i in range(2)]
    targets = ["happy", "sad", "contempt"]
    emo_faces = [_face256(3, 60 + i) for i in range(3)]
    talk = [_talking(1, False), _talking(2, False)]
    leaky = [_talking(1, True), _talking(3, False)]
    heads = [(talk[0][0], talk[1][0]), (leaky[0][0], leaky[1][0])]
    return {
        "ssim": ([({}, fake, real)], {}, [(fake[i:i + 1], real[i:i + 1]) for i in range(4)],
                 lambda: F.ssim(fake, real)),
        "psnr": ([({}, fake, real)], {}, [(fake[i:i + 1], real[i:i + 1]) for i in range(4)],
                 lambda: F.psnr(fake, real)),
        "lpips": ([({}, fake, real)], {}, [(fake[i:i + 1], real[i:i + 1]) for i in range(4)],
                  lambda: F.lpips(fake, real)),
        # (each of the two processes gets one generated and one real update: torchmetrics cannot sync a
        # list state that is empty on one process, as the FID/FVD classes' docstrings say)
        "fid": ([({}, sets_f, sets_r)], {}, [(sets_f[:4], False), (sets_f[4:], False), (sets_r[:4], True),
                                              (sets_r[4:], True)], lambda: F.fid(sets_f, sets_r)),
        "fvd": ([({}, v, r) for v, r in zip(vids_f, vids_r)], {},
                [(vids_f[0], False), (vids_f[1], False), (vids_r[0], True), (vids_r[1], True)],
                lambda: F.fvd(vids_f, vids_r)),
        "lse": ([({"audio": a}, c, None) for c, a in zip(sync, audio)], {}, list(zip(sync, audio)),
                lambda: float(np.mean([F.lse(c, a)["lse_c"] for c, a in zip(sync, audio)]))),
        "emotion": ([({"emotion": t}, x, None) for x, t in zip(emo_faces, targets)], {"classifier": "fer"},
                    list(zip(emo_faces, targets)), lambda: F.emotion_accuracy(emo_faces, targets)[0]),
        "lmd": ([({}, a, b) for a, b in zip(f256, r256)], {}, list(zip(f256, r256)),
                lambda: float(np.mean([F.lmd(a, b)["lmd"] for a, b in zip(f256, r256)]))),
        "csim": ([({}, f256[0], r256[0])], {}, [(f256[0][:2], r256[0][0]), (f256[0][2:], r256[0][0])],
                 lambda: F.csim(f256[0], r256[0][0])),
        "avsync": ([({"audio": a}, c, None) for c, a in talk], {}, talk,
                   lambda: float(np.mean([F.avsync(c, a)["avsync_peak"] for c, a in talk]))),
        "lipleak": ([({"audio": a}, c, None) for c, a in leaky], {}, leaky,
                    lambda: float(np.mean([F.lipleak(c, a)["lipleak"] for c, a in leaky]))),
        # the synthetic faces' own head motion; the leaky copy's reordered tail makes its head jump
        "headmotion": ([({}, f, r) for f, r in heads], {}, heads,
                       lambda: float(np.mean([F.headmotion(f, r)["headmotion_gap"] for f, r in heads]))),
        # the two synthetic speakers' mouths (and the leaky copy's reordered tail) against each other
        "lmd_dtw": ([({}, f, r) for f, r in heads], {}, heads,
                    lambda: float(np.mean([F.lmd_dtw(f, r)["lmd_dtw"] for f, r in heads]))),
        "action_dist": ([({}, f, r) for f, r in heads], {}, heads,
                        lambda: float(np.mean([F.action_dist(f, r)["action_dist"] for f, r in heads]))),
        "action_dist_dtw": ([({}, f, r) for f, r in heads], {}, heads,
                            lambda: float(np.mean([F.action_dist_dtw(f, r)["action_dist_dtw"] for f, r in heads]))),
        "headvel": ([({}, f, r) for f, r in heads], {},
                    [(heads[0][0], False), (heads[1][0], False), (heads[0][1], True), (heads[1][1], True)],
                    lambda: F.headvel([f for f, _ in heads], [r for _, r in heads])),
        # issue 28 items 2-3: the same synthetic faces' expressions, blinks and brows
        "expfid": ([({}, f, r) for f, r in heads], {},
                   [(heads[0][0], False), (heads[1][0], False), (heads[0][1], True), (heads[1][1], True)],
                   lambda: F.expfid([f for f, _ in heads], [r for _, r in heads])),
        "blinkbrow": ([({}, f, r) for f, r in heads], {}, heads,
                      lambda: float(np.mean([F.blinkbrow(f, r)["blinkbrow_gap"] for f, r in heads]))),
    }


def _evaluate(name: str, clips) -> float:
    from eadbench.metrics import METRICS
    from eadbench.metrics.base import ClipMeta, MetricContext

    info = METRICS.get(name)
    ev = info.factory(MetricContext(options={"classifier": "fer"} if name == "emotion" else {}))
    outs, reals = [], []
    for k, (meta, fake, real) in enumerate(clips):
        m = ClipMeta(f"c{k}", **meta)
        if info.level == "set":
            outs.append(ev.clip(m, fake))
            reals.append(ev.clip(m, real))
        else:
            outs.append(ev.clip(m, fake, real if "real" in info.needs else None))
    return float(ev.reduce(outs, reals)[info.outputs[0]])


def _class_value(name: str, kwargs: dict, updates) -> float:
    import eadbench.metrics as M

    m = getattr(M, M.CLASS_OF[name])(**kwargs)
    for args in updates:
        m.update(*args)
    v = m.compute()
    return float(v[next(iter(v))] if isinstance(v, dict) else v)


@pytest.fixture(scope="module")
def standins(tmp_path_factory):
    return write_standins(tmp_path_factory.mktemp("standins"))


@pytest.fixture()
def weights_env(standins, monkeypatch):
    monkeypatch.setenv("EADBENCH_WEIGHTS", str(standins))
    relax_hashes(monkeypatch)
    return standins


def _registered() -> list[str]:
    from eadbench.metrics import METRICS

    return METRICS.names()


def test_every_registered_metric_declares_its_class_and_functional_twin_once():
    """Each metric module declares its twin and its class's recipe in ``register_metric``; the
    class (built from it), ``CLASS_OF`` and ``functional`` all follow from that declaration."""
    import pickle

    from torchmetrics import Metric

    import eadbench.metrics as M
    import eadbench.metrics.functional as F
    from eadbench.metrics.base import HIGHER

    assert set(M.CLASS_OF) == set(M.METRICS.names())
    assert set(M.MODULES) <= set(M.METRICS.names()), "a module of eadbench/metrics registers no metric of its name"
    for name, info in M.METRICS.items():
        assert info.functional is not None and info.torchmetric is not None, name
        assert getattr(F, info.functional.__name__) is info.functional, name
        cls = getattr(M, M.CLASS_OF[name])
        assert issubclass(cls, Metric) and cls.info is info, name
        assert cls.higher_is_better == (info.direction == HIGHER), name
        assert pickle.loads(pickle.dumps(cls)) is cls, name  # importable by its name, as pickling a metric needs
        assert info.columns and all(c.output in info.outputs for c in info.columns), name
    assert sorted(F.__all__) == sorted(i.functional.__name__ for _, i in M.METRICS.items())
    # `eadbench metrics list` names both, as importable paths
    from typer.testing import CliRunner

    from eadbench.cli.main import app

    r = CliRunner().invoke(app, ["metrics", "list", "--json"])
    assert r.exit_code == 0, r.output
    for row in json.loads(r.output):
        for path in row["python"].values():
            module, attr = path.rsplit(".", 1)
            assert getattr(__import__(module, fromlist=[attr]), attr) is not None, path


@pytest.mark.parametrize("name", _registered())
def test_class_functional_and_evaluator_agree_and_reset_forgets(name, weights_env):
    every = cases()
    assert name in every, f"metric {name} has no case in tests/test_metric_contract.py:cases()"
    clips, kwargs, updates, functional = every[name]
    ev_value = _evaluate(name, clips)
    fn_value = functional()
    cls_value = _class_value(name, kwargs, updates)
    assert fn_value != 0 and np.isfinite(fn_value), "a degenerate case would agree whatever the code does"
    tol = 1e-3 if name in ("fid", "fvd") else 1e-5  # Frechet distances of different summation orders
    assert ev_value == pytest.approx(fn_value, rel=tol, abs=tol)
    assert cls_value == pytest.approx(fn_value, rel=tol, abs=tol)
    import eadbench.metrics as M

    m = getattr(M, M.CLASS_OF[name])(**kwargs)
    for args in updates[: max(1, len(updates) // 2)]:
        m.update(*args)
    m.reset()
    for args in updates:
        m.update(*args)
    v = m.compute()
    assert float(v[next(iter(v))] if isinstance(v, dict) else v) == pytest.approx(cls_value, rel=1e-9, abs=1e-9)


RANK = """
import json, os, sys
import torch.distributed as dist
sys.path.insert(0, sys.argv[1])
from tests.helpers.standins import relax_hashes
from tests.test_metric_contract import cases, _class_value
relax_hashes()
dist.init_process_group("gloo")
rank = dist.get_rank()
out = {}
for name, (clips, kwargs, updates, functional) in cases().items():
    out[name] = _class_value(name, kwargs, updates[rank::2])
if rank == 0:
    print("VALUES", json.dumps(out), flush=True)
dist.barrier()
dist.destroy_process_group()
# skip the interpreter's teardown: C++ threads still alive then (gloo's, the thread pools') made
# about one exit in three abort with "terminate called without an active exception"
os._exit(0)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_states_sync_across_two_gloo_processes(weights_env, tmp_path):
    single = {name: _class_value(name, c[1], c[2]) for name, c in cases().items()}
    script = tmp_path / "rank.py"
    script.write_text(RANK)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "EADBENCH_WEIGHTS": str(weights_env)}
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port",
                        str(_free_port()), str(script), str(REPO)], capture_output=True, text=True, env=env,
                       timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    synced = json.loads(r.stdout.split("VALUES", 1)[1].strip().splitlines()[0])
    for name, v in single.items():
        tol = 1e-3 if name in ("fid", "fvd") else 1e-6
        assert synced[name] == pytest.approx(v, rel=tol, abs=tol), name
