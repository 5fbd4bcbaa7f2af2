"""Frame alignment of paired metrics (eadbench/run/align.py): a generator that drops its first
frames and pads the end is compared with the real frames it actually shows, and the record says
which shift was applied and how many frames were paired. Videos that do not follow the real one
(a still image, unrelated content) are never shifted."""

from __future__ import annotations

import numpy as np
import pytest

from eadbench import media
from eadbench.metrics.ssim import ssim
from eadbench.run.align import MAX_SHIFT, Pairing, estimate_shift

N = 40


def _moving(n: int = N, size: int = 64, seed: int = 0) -> np.ndarray:
    """Textured frames that move a few pixels per frame (each frame differs from its neighbours)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (size * 3, size * 3, 3), dtype=np.uint8)
    base = np.asarray(np.repeat(np.repeat(base[::4, ::4], 4, 0), 4, 1), dtype=np.uint8)
    return np.stack([base[2 * i: 2 * i + size, 3 * i % size: 3 * i % size + size] for i in range(n)])


def test_estimate_shift_finds_dropped_frames_and_refuses_unrelated_video():
    real = _moving()
    dropped = np.concatenate([real[2:], real[-1:], real[-1:]])
    assert estimate_shift(dropped, real)[0] == 2
    late = np.concatenate([real[:1], real[:1], real[:1], real[:-3]])  # three frames of delay
    assert estimate_shift(late, real)[0] == -3
    assert estimate_shift(real, real)[0] == 0
    still = np.repeat(real[:1], N, axis=0)
    assert estimate_shift(still, real)[0] == 0
    # a still frame against a video that drifts away from it: the earliest real frames look most
    # like it, which must not read as a shift (the `static` method's output)
    drifting = np.stack([np.clip(real[0] + 0.25 * i, 0, 255).round().astype(np.uint8) for i in range(N)])
    shift, why = estimate_shift(np.repeat(drifting[:1], N, axis=0), drifting)
    assert shift == 0 and "barely moves" in why["reason"]
    other = _moving(seed=1)
    assert estimate_shift(other, real)[0] == 0


def test_a_shift_of_max_shift_frames_is_found_and_one_past_it_is_refused():
    # the `shifted` control delays the real clip by exactly MAX_SHIFT frames (first frame held):
    # it must be aligned; a delay past MAX_SHIFT is refused as a drift, never half-aligned
    real = _moving(n=60)
    for k, expected in ((MAX_SHIFT, -MAX_SHIFT), (MAX_SHIFT + 2, 0)):
        late = np.concatenate([np.repeat(real[:1], k, axis=0), real[:-k]])
        shift, why = estimate_shift(late, real)
        assert shift == expected, why


def test_pairing_in_chunks_pairs_every_frame_with_its_partner():
    real = _moving()
    fake = np.concatenate([real[2:], real[-1:], real[-1:]])
    p = Pairing({"frames"}, "frames")  # decides after PROBE_FRAMES frames, or at finish()
    got_fake, got_real = [], []
    for start in range(0, N, 7):  # chunks of 7 frames, both streams in step
        sl = slice(start, start + 7)
        p.push(start, {"frames": fake[sl]}, {}, start, {"frames": real[sl]}, {})
        while (ready := p.pop()) is not None:
            got_fake.append(ready[1]["frames"])
            got_real.append(ready[2]["frames"])
    p.finish()
    while (ready := p.pop()) is not None:
        got_fake.append(ready[1]["frames"])
        got_real.append(ready[2]["frames"])
    f, r = np.concatenate(got_fake), np.concatenate(got_real)
    assert len(f) == N - 2
    assert np.array_equal(f, r)  # every generated frame met the real frame it shows
    rep = p.report()
    assert rep["align_shift"] == 2 and rep["frames_paired"] == N - 2 and rep["frames_fake"] == N


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("align")
    real = _moving(size=96)
    rng = np.random.default_rng(3)
    noisy = np.clip(real.astype(np.int16) + rng.integers(-12, 13, real.shape), 0, 255).astype(np.uint8)
    fake = np.concatenate([noisy[2:], noisy[-1:], noisy[-1:]])  # drops the first 2 frames, pads the end
    media.write_video(d / "real.mp4", real)
    media.write_video(d / "fake.mp4", fake)
    return d


def test_score_aligns_a_generator_that_drops_frames(clips):
    import eadbench

    rec = eadbench.score(["ssim"], clips / "fake.mp4", clips / "real.mp4", crop="none")[0]
    item = rec["per_item"]["fake"]
    assert item["align_shift"] == 2 and item["frames_paired"] == N - 2
    fake, real = media.read_frames(clips / "fake.mp4"), media.read_frames(clips / "real.mp4")
    true = ssim(fake[: N - 2], real[2:])  # generated frame j shows real frame j + 2
    naive = ssim(fake, real)
    assert rec["value"] == pytest.approx(true, abs=1e-6)
    assert true - naive > 0.1  # the unaligned number would have been far off
