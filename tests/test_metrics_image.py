"""SSIM, PSNR, LPIPS and FID against their reference implementations (same inputs, same weights)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import skimage.data
import torch
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from eadbench import weights
from eadbench.errors import MetricInputError, WeightsIntegrityError, WeightsMissingError
from eadbench.metrics import fid as fid_mod
from eadbench.metrics import lpips as lpips_mod
from eadbench.metrics import psnr as psnr_mod
from eadbench.metrics import ssim as ssim_mod
from eadbench.nets.inception import fid_inception
from eadbench.nets.lpips import lpips_alex
from tests.helpers.standins import fid_inception_state, relax_hashes


def _pairs(n=3, size=(96, 112)):
    rng = np.random.default_rng(0)
    base = [skimage.data.astronaut(), skimage.data.chelsea(), skimage.data.coffee()]
    real = np.stack([np.asarray(Image.fromarray(b).resize(size[::-1])) for b in base[:n]])
    fake = np.clip(real.astype(int) + rng.normal(0, 18, real.shape), 0, 255).astype(np.uint8)
    return fake, real


def test_ssim_equals_scikit_image_and_torchmetrics_valid_area():
    from torchmetrics.functional.image import structural_similarity_index_measure as tm

    fake, real = _pairs()
    ours = ssim_mod.ssim_frames(fake, real).numpy()
    for i in range(len(fake)):
        ref = structural_similarity(real[i], fake[i], channel_axis=-1, gaussian_weights=True, sigma=1.5,
                                    use_sample_covariance=False, data_range=255)
        assert abs(ours[i] - ref) < 1e-4
        _, full = tm(torch.tensor(fake[i]).permute(2, 0, 1)[None].double(),
                     torch.tensor(real[i]).permute(2, 0, 1)[None].double(), gaussian_kernel=True, sigma=1.5,
                     data_range=255.0, return_full_image=True)
        assert abs(ours[i] - full[..., 5:-5, 5:-5].mean().item()) < 1e-4
    from eadbench.metrics import SSIM

    m = SSIM()
    m.update(fake[:2], real[:2])
    m.update(fake[2:], real[2:])
    assert abs(m.compute().item() - ours.mean()) < 1e-9


@pytest.mark.parametrize("size", [(139, 77), (75, 300), (11, 11), (74, 40)])
def test_ssim_bands_equal_scikit_image_at_every_size(size):
    """SSIM is computed in bands of rows: sizes that end a band early, a single valid pixel, one
    exact band; each equal to scikit-image's float64 SSIM to float32 rounding (eadbench computes
    the moments in float32 on centred pixels: measured at most 7e-7 relative on real frames)."""
    fake, real = _pairs(3, size)
    ours = ssim_mod.ssim_frames(fake, real).numpy()
    for i in range(len(fake)):
        ref = structural_similarity(real[i], fake[i], channel_axis=-1, gaussian_weights=True, sigma=1.5,
                                    use_sample_covariance=False, data_range=255)
        assert ours[i] == pytest.approx(ref, rel=2e-6)


def test_image_metrics_do_not_fault_in_fresh_memory_per_frame():
    """Issue 24: a third of a run's CPU time was kernel time, page faults of the temporary arrays
    SSIM and PSNR made per frame (each large block is a fresh mmap under eadbench.streams' malloc
    policy: about 10,000 faults per 590x590 pair). With per-thread scratch buffers a frame pair
    costs next to no faults once the buffers exist."""
    import resource

    import eadbench.streams  # noqa: F401  (its malloc policy, as in a run)

    fake, real = _pairs(8, (590, 590))
    ssim_mod.ssim_frames(fake, real), psnr_mod.psnr_frames(fake, real)  # buffers made on every thread
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(3):
        ssim_mod.ssim_frames(fake, real), psnr_mod.psnr_frames(fake, real)
    per_pair = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / (3 * len(fake))
    assert per_pair < 500, f"{per_pair:.0f} page faults per frame pair"


def test_psnr_equals_scikit_image_and_caps_identical_frames():
    fake, real = _pairs()
    ours = psnr_mod.psnr_frames(fake, real).numpy()
    for i in range(len(fake)):
        assert abs(ours[i] - peak_signal_noise_ratio(real[i], fake[i], data_range=255)) < 1e-4
    assert psnr_mod.psnr(real, real) == psnr_mod.CAP_DB


def test_image_metrics_refuse_mismatched_sizes():
    fake, real = _pairs()
    with pytest.raises(MetricInputError, match="differ in size"):
        ssim_mod.ssim(fake[:, :90], real)
    with pytest.raises(MetricInputError, match="smaller than"):
        ssim_mod.ssim(fake[:, :8, :8], real[:, :8, :8])


def _standin_hub(tmp_path, monkeypatch, name):
    """A temporary TORCH_HOME whose hub cache both eadbench and the reference package read."""
    home = tmp_path / "torch_home"
    (home / "hub" / "checkpoints").mkdir(parents=True)
    monkeypatch.setenv("TORCH_HOME", str(home))
    # stand-in weights cannot carry the official hash: relax the check for this entry only
    spec = weights.WEIGHTS.get(name)
    relax_hashes(monkeypatch, [name])
    return home / "hub" / "checkpoints" / spec.filename


def test_lpips_equals_lpips_package_with_same_weights(tmp_path, monkeypatch):
    import lpips
    import torchvision

    path = _standin_hub(tmp_path, monkeypatch, "alexnet")
    torch.manual_seed(0)
    torch.save(torchvision.models.alexnet(weights=None).state_dict(), path)
    ref_net = lpips.LPIPS(net="alex", verbose=False).eval()  # torchvision loads the same file from the hub cache
    fake, real = _pairs()
    ours = lpips_mod.lpips_frames(fake, real, lpips_alex()).numpy()
    with torch.no_grad():
        ref = ref_net(torch.tensor(fake).permute(0, 3, 1, 2).float() / 127.5 - 1,
                      torch.tensor(real).permute(0, 3, 1, 2).float() / 127.5 - 1).flatten().numpy()
    assert np.abs(ours - ref).max() < 1e-5
    assert ours.min() > 0


def test_lpips_missing_backbone_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    monkeypatch.setenv("EADBENCH_CACHE", str(tmp_path / "cache"))
    with pytest.raises(WeightsMissingError, match="alexnet-owt-7be5be79.pth .* put it at .*download.pytorch.org"):
        lpips_alex()


def _fid_standin(path):
    torch.save(fid_inception_state(seed=0), path)


def _image_folder(d, seed, n=8, size=64):
    d.mkdir()
    rng = np.random.default_rng(seed)
    src = [skimage.data.astronaut(), skimage.data.chelsea(), skimage.data.coffee(), skimage.data.rocket()]
    frames = []
    for i in range(n):
        im = src[i % len(src)]
        y, x = rng.integers(0, im.shape[0] - 128), rng.integers(0, im.shape[1] - 128)
        crop = np.asarray(Image.fromarray(im[y:y + 128, x:x + 128]).resize((size, size)))
        crop = np.clip(crop.astype(int) + rng.normal(0, 10 * seed, crop.shape), 0, 255).astype(np.uint8)
        Image.fromarray(crop).save(d / f"{i:03d}.png")
        frames.append(crop)
    return np.stack(frames)


def test_fid_equals_pytorch_fid_on_the_same_folders(tmp_path, monkeypatch):
    from pytorch_fid.fid_score import calculate_fid_given_paths

    path = _standin_hub(tmp_path, monkeypatch, "inception-fid")
    _fid_standin(path)
    a = _image_folder(tmp_path / "a", 1)
    b = _image_folder(tmp_path / "b", 3)
    ours = fid_mod.fid(a, b)
    ref = calculate_fid_given_paths([str(tmp_path / "a"), str(tmp_path / "b")], batch_size=8, device="cpu",
                                    dims=2048, num_workers=0)
    assert abs(ours - ref) / abs(ref) < 1e-3
    assert fid_mod.fid(a, a) == pytest.approx(0.0, abs=1e-3)
    with pytest.raises(MetricInputError, match="at least 2"):
        fid_mod.fid(a[:1], b)


def test_corrupted_weight_file_is_refused(tmp_path, monkeypatch):
    path = _standin_hub(tmp_path, monkeypatch, "inception-fid")
    path.write_bytes(b"not a zip archive")
    with pytest.raises(WeightsIntegrityError, match="cannot read"):
        fid_inception()


def test_hash_mismatch_is_refused(tmp_path, monkeypatch):
    home = tmp_path / "th"
    (home / "hub" / "checkpoints").mkdir(parents=True)
    monkeypatch.setenv("TORCH_HOME", str(home))
    (home / "hub" / "checkpoints" / "pt_inception-2015-12-05-6726825d.pth").write_bytes(b"x" * 100)
    with pytest.raises(WeightsIntegrityError, match="does not match the published"):
        weights.verified("inception-fid")


def test_all_black_frames_give_finite_values():
    black = np.zeros((3, 64, 64, 3), np.uint8)
    assert ssim_mod.ssim(black, black) == pytest.approx(1.0)
    assert np.isfinite(ssim_mod.ssim(black, _pairs(3, (64, 64))[1]))
    assert psnr_mod.psnr(black, black) == psnr_mod.CAP_DB
    assert np.isfinite(psnr_mod.psnr(black, _pairs(3, (64, 64))[1]))


def test_ssim_of_identical_frames_is_the_formulas_exact_one(monkeypatch):
    """Identical frames skip the arithmetic (the ground-truth control scores its own frames): the
    shortcut must return what the full computation gives, bit for bit, which is exactly 1.0."""
    fake, real = _pairs(3, (90, 70))
    same = np.ascontiguousarray(real)
    shortcut = [ssim_mod._ssim_frame(x, x.copy()) for x in same]
    monkeypatch.setattr(ssim_mod.np, "array_equal", lambda a, b: False)
    full = [ssim_mod._ssim_frame(x, x.copy()) for x in same]
    assert shortcut == full == [1.0, 1.0, 1.0]
    assert ssim_mod._ssim_frame(fake[0], real[0]) < 1.0


_REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


@pytest.mark.skipif(not _REAL.is_dir(), reason=f"real clips not found at {_REAL}")
@pytest.mark.parametrize("a,b", [("retalking_3.mp4", None),
                                 ("WDA_KatieHill_000.mp4", "WDA_AlexandriaOcasioCortez_000.mp4")])
def test_ssim_float32_equals_scikit_image_on_real_frames(a, b):
    """The float32 moments on real 512-590² frames (a frame against a mildly noisy copy, where SSIM
    is near 1 and variances small, and against another speaker): within 2e-6 of float64."""
    from eadbench.media import read_frames

    real = read_frames(_REAL / a, max_frames=3)
    if b is None:
        rng = np.random.default_rng(1)
        fake = np.clip(real.astype(int) + rng.normal(0, 3, real.shape), 0, 255).astype(np.uint8)
    else:
        fake = read_frames(_REAL / b, max_frames=3)
    ours = ssim_mod.ssim_frames(fake, real).numpy()
    for i in range(len(real)):
        ref = structural_similarity(real[i], fake[i], channel_axis=-1, gaussian_weights=True, sigma=1.5,
                                    use_sample_covariance=False, data_range=255)
        assert ours[i] == pytest.approx(ref, rel=2e-6)
