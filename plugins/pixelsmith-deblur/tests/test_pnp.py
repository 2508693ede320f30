"""Plug-and-play deconvolution and kernel refinement: the data step against a dense solve, the
kernel fit against a known kernel, and the restorer's pnp path on a real photograph."""

from __future__ import annotations

import pytest
import torch

import pixelsmith
from pixelsmith.plugin import (
    BlurCanvas,
    InvalidInputError,
    as_kernel_batch,
    blur_with_kernel,
    gaussian_kernel,
    gaussian_noise_like,
    line_kernel,
    motion_kernel,
    shake_kernel,
    test_photos,
)
from pixelsmith.testing import requires_component
from pixelsmith_deblur import wiener_deconvolve
from pixelsmith_deblur.kernel_refine import fit_kernel, support_for
from pixelsmith_deblur.pnp import _data_step, noise_schedule, pnp_deconvolve


#: the plug-and-play prior is another plugin's component, found through the registry (the mark also
#: makes CI rerun these tests with every plugin installed)
needs_denoiser = requires_component("restorer", "unet-denoise")


def _psnr(a, b):
    return float(pixelsmith.metric("psnr")(a.clamp(0, 1), b)[0])


def _dense_operator(canvas: BlurCanvas) -> torch.Tensor:
    """M·K as an explicit matrix, built column by column from unit impulses (independent of the FFT
    algebra of the solver: only ``blur`` is used, the adjoint comes from the transpose)."""
    n = canvas.hp * canvas.wp
    cols = []
    for j in range(n):
        e = torch.zeros(1, 1, canvas.hp, canvas.wp, dtype=torch.float64)
        e.view(-1)[j] = 1
        cols.append((canvas.mask * canvas.blur(torch.fft.rfft2(e))).reshape(-1))
    return torch.stack(cols, dim=1)


def test_data_step_solves_the_masked_normal_equations():
    g = torch.Generator().manual_seed(0)
    y = torch.rand(1, 1, 6, 7, generator=g, dtype=torch.float64)
    k = as_kernel_batch(torch.rand(3, 3, generator=g, dtype=torch.float64), 1)
    canvas = BlurCanvas(y, k, torch.float64)
    z = torch.rand(1, 1, canvas.hp, canvas.wp, generator=g, dtype=torch.float64)
    alpha = torch.full((1, 1, 1, 1), 0.05, dtype=torch.float64)
    rhs = canvas.blur_adjoint(canvas.mask * canvas.y) + alpha * z
    x = _data_step(canvas, rhs, alpha, z, steps=200)
    a = _dense_operator(canvas)
    # argmin ‖M(k⋆x) − y‖² + α‖x − z‖², solved densely
    dense = torch.linalg.solve(a.T @ a + 0.05 * torch.eye(a.shape[0], dtype=torch.float64),
                               a.T @ canvas.y.reshape(-1) + 0.05 * z.reshape(-1))
    assert torch.allclose(x.reshape(-1), dense, atol=1e-8)


def test_noise_schedule_falls_geometrically_to_each_images_sigma():
    levels = noise_schedule(torch.tensor([0.01, 0.5]), 5, 0.2)
    assert levels.shape == (5, 2)
    assert torch.allclose(levels[0], torch.tensor([0.2, 0.2], dtype=torch.float64))
    assert abs(float(levels[-1, 0]) - 0.01) < 1e-9 and torch.allclose(levels[:, 1], torch.full((5,), 0.2,
                                                                                               dtype=torch.float64))
    ratios = levels[1:, 0] / levels[:-1, 0]
    assert torch.allclose(ratios, ratios[0].expand(4))


@pytest.mark.parametrize("make", [lambda: shake_kernel(20.0, torch.Generator().manual_seed(3)),
                                  lambda: line_kernel(11.0, 37.0)])
def test_kernel_fit_recovers_a_blur_from_the_sharp_image(make):
    k = make()
    x = test_photos(size=192)["camera"][0, 0]
    y = blur_with_kernel(x[None, None], k, "reflect")[0, 0]
    side = k.shape[0] + 6
    est = fit_kernel(x, y, side, tikhonov=1e-3)  # noise-free: a light regulariser recovers it exactly
    pad = (side - k.shape[0]) // 2
    truth = torch.nn.functional.pad(k, [pad] * 4)
    assert est.shape == (side, side) and abs(float(est.sum()) - 1) < 1e-5 and float(est.min()) >= 0
    assert float((est - truth).abs().sum()) < 0.2  # L1 distance of two unit-mass kernels (max 2)
    assert support_for(k) % 2 == 1 and support_for(torch.ones(51, 51)) == 41


@needs_denoiser
def test_pnp_beats_the_blurred_input_and_wiener_on_a_photo():
    clean = test_photos(size=64)["camera"]
    k = gaussian_kernel(1.5)
    y = (blur_with_kernel(clean, k, "reflect") + 0.01 * torch.randn(clean.shape, generator=torch.Generator()
                                                                  .manual_seed(1))).clamp(0, 1)
    denoiser = pixelsmith.restorer("unet-denoise", device="cpu")
    out = pnp_deconvolve(y, as_kernel_batch(k, 1), lambda v, s: denoiser.restore(v, sigma=s), torch.tensor([0.01]))
    wiener = max(_psnr(wiener_deconvolve(y, k, balance), clean) for balance in (0.003, 0.01, 0.03, 0.1))
    assert out.shape == y.shape
    assert _psnr(out, clean) > _psnr(y, clean) + 1.0
    assert _psnr(out, clean) > wiener


@needs_denoiser
def test_deblur_methods_and_their_errors():
    deb = pixelsmith.restorer("deblur", device="cpu")
    assert deb.method == "pnp"
    clean = test_photos(size=48)["camera"].repeat(1, 3, 1, 1)
    k = gaussian_kernel(1.2)
    y = blur_with_kernel(clean, k, "reflect")
    both = deb.restore(y, kernel=k, sigma=0.005)
    assert both.shape == y.shape and _psnr(both, clean) > _psnr(y, clean)
    net = pixelsmith.restorer("deblur", device="cpu", method="network")
    assert torch.equal(net.restore(y, kernel=k), net.restore(y, kernel=k, sigma=0.3))  # the network ignores σ
    refined = pixelsmith.restorer("deblur", device="cpu", refine_rounds=1).restore(y[:, :1])  # blind, kernel refit once
    assert refined.shape == (1, 1, 48, 48) and bool(torch.isfinite(refined).all())
    with pytest.raises(InvalidInputError, match="refine_rounds"):
        pixelsmith.restorer("deblur", device="cpu", refine_rounds=-1)
    with pytest.raises(InvalidInputError, match="method"):
        pixelsmith.restorer("deblur", device="cpu", method="magic")
    with pytest.raises(InvalidInputError, match="sigma"):
        deb.restore(y, kernel=k, sigma=-1)
    with pytest.raises(InvalidInputError, match="not installed"):
        pixelsmith.restorer("deblur", device="cpu", denoiser="no-such-denoiser").restore(y, kernel=k)


@needs_denoiser
@pytest.mark.parametrize("sigma, match", [
    (torch.tensor([0.01, 0.02]), r"one noise level or one per image \(1\), got 2 values"),
    (25, r"8-bit noise level.*25/255"),
])
def test_a_known_sigma_is_checked_by_the_core_helper(sigma, match):
    # the plug-and-play path reads sigma with pixelsmith.plugin.noise_levels: tv-deconv's checks and messages
    deb = pixelsmith.restorer("deblur", device="cpu")
    y = blur_with_kernel(test_photos(size=24)["camera"], gaussian_kernel(1.0), "reflect")
    with pytest.raises(InvalidInputError, match=match):
        deb.restore(y, kernel=gaussian_kernel(1.0), sigma=sigma)


def test_the_pnp_prior_weights_are_pinned_in_this_plugin():
    from pixelsmith.plugin import sha256_of
    from pixelsmith.plugin import read_metadata
    from pixelsmith_deblur.deblur import GAUSSIAN_PRIOR_SHA256, HEAVY_NOISE_PRIOR_SHA256, PNP_PRIOR_SHA256, Deblurrer

    assert sha256_of(Deblurrer.prior_file.path) == PNP_PRIOR_SHA256 == Deblurrer.prior_file.sha256
    assert sha256_of(Deblurrer.heavy_noise_prior_file.path) == HEAVY_NOISE_PRIOR_SHA256 \
        == Deblurrer.heavy_noise_prior_file.sha256
    assert sha256_of(Deblurrer.gaussian_prior_file.path) == GAUSSIAN_PRIOR_SHA256 == Deblurrer.gaussian_prior_file.sha256
    # both priors are deep-unfolding fine-tunes (unet-denoise weights files): the heavy-noise one of the Gaussian
    # denoiser's network, trained on noise up to 0.2; the default one works on pixels, trained up to 0.03
    meta, heavy = read_metadata(Deblurrer.prior_file.path), read_metadata(Deblurrer.heavy_noise_prior_file.path)
    base = read_metadata(Deblurrer.gaussian_prior_file.path)
    assert meta["component"] == heavy["component"] == "unet-denoise" and "iterations" in meta and "iterations" in heavy
    assert heavy["model_config"] == base["model_config"] and float(heavy["noise_max"]) == 0.2
    assert '"unshuffle": 1' in meta["model_config"] and float(meta.get("noise_max", 0.03)) == 0.03
    deb = Deblurrer(device="cpu")
    assert deb._denoiser_weights == Deblurrer.prior_file  # unet-denoise gets the pinned file, not its own
    assert Deblurrer(device="cpu", denoiser="other")._denoiser_weights is None
    assert Deblurrer(device="cpu", denoiser_weights="x.safetensors")._denoiser_weights == "x.safetensors"


@needs_denoiser
def test_the_prior_averages_four_views_unless_pnp_ensemble_says_otherwise():
    one = pixelsmith.restorer("deblur", device="cpu", pnp_ensemble=1)
    four = pixelsmith.restorer("deblur", device="cpu")
    assert four.prior.ensemble == 4 and one.prior.ensemble == 1
    from pixelsmith_deblur.deblur import Deblurrer

    assert Deblurrer(device="cpu", denoiser="other").pnp_ensemble == 1  # another denoiser has no views
    clean = test_photos(size=48)["camera"]
    k = gaussian_kernel(1.5)
    y = blur_with_kernel(clean, k, "reflect")
    a, b = one.restore(y, kernel=k, sigma=0.01), four.restore(y, kernel=k, sigma=0.01)
    assert not torch.equal(a, b) and _psnr(b, clean) > _psnr(y, clean)
    with pytest.raises(InvalidInputError, match="pnp_ensemble must be 1, 2, 4 or 8"):
        pixelsmith.restorer("deblur", device="cpu", pnp_ensemble=3)
    with pytest.raises(InvalidInputError, match="option of the unet-denoise prior"):
        pixelsmith.restorer("deblur", device="cpu", denoiser="other", pnp_ensemble=2)


def test_a_motion_estimate_offers_its_continuous_line_as_a_second_candidate():
    from pixelsmith_deblur.kernel_estimator import KernelEstimate

    motion = KernelEstimate("motion", motion_kernel(13, 40.0), length=13, angle=40.0, expected_length=12.4)
    first, second = motion.candidates()
    assert torch.equal(first, motion.kernel) and torch.equal(second, line_kernel(12.4, 40.0))
    assert len(KernelEstimate("gaussian", gaussian_kernel(2.0), sigma=2.0).candidates()) == 1
    assert len(KernelEstimate("motion", motion_kernel(9, 10.0), length=9, angle=10.0).candidates()) == 1  # no expectation


def test_the_interior_residual_prefers_the_kernel_that_made_the_blur():
    from pixelsmith_deblur.deblur import interior_residual

    clean = test_photos(size=64)["camera"]
    true, other = line_kernel(11.3, 30.0), motion_kernel(11, 30.0)
    y = blur_with_kernel(clean, true, "reflect")
    assert interior_residual(clean, true, y) < 1e-10 < interior_residual(clean, other, y)


@needs_denoiser
def test_blind_restores_keep_the_candidate_that_explains_the_blur_best():
    from pixelsmith_deblur.deblur import interior_residual

    clean = test_photos(size=64)["camera"]
    y = (blur_with_kernel(clean, line_kernel(12.6, 40.0), "reflect")
         + gaussian_noise_like(clean, 0.01, torch.Generator().manual_seed(0))).clamp(0, 1)
    # blind_prior="pixel": the blind restore deconvolves with the prior a kernel given gets, so the two compare
    deb = pixelsmith.restorer("deblur", device="cpu", estimator="standard", pnp_ensemble=1, kernel_candidates=True,
                              blind_prior="pixel")
    estimate = deb.estimate_kernels(y)[0]
    assert estimate.family == "motion" and len(estimate.candidates()) == 2
    tried = [deb.restore(y, kernel=k, sigma=0.01) for k in estimate.candidates()]
    residuals = [interior_residual(t, k / k.sum(), y) for t, k in zip(tried, estimate.candidates())]
    best = tried[min(range(2), key=residuals.__getitem__)]
    assert torch.allclose(deb.restore(y, sigma=0.01), best, atol=1e-6)
    only_first = pixelsmith.restorer("deblur", device="cpu", estimator="standard", pnp_ensemble=1,
                                     kernel_shape="family", blind_prior="pixel")
    assert only_first.kernel_candidates is False and deb.kernel_shape == "family"  # off by default
    assert torch.allclose(only_first.restore(y, sigma=0.01), tried[0], atol=1e-6)
    with pytest.raises(InvalidInputError, match="kernel_candidates must be True or False"):
        pixelsmith.restorer("deblur", device="cpu", estimator="standard", kernel_candidates="yes")
    with pytest.raises(InvalidInputError, match="cannot be combined with kernel_shape='auto'"):
        pixelsmith.restorer("deblur", device="cpu", estimator="standard", kernel_candidates=True, kernel_shape="auto")


@needs_denoiser
def test_blind_restores_deconvolve_with_the_blind_prior():
    from pixelsmith_deblur.deblur import Deblurrer

    y = blur_with_kernel(test_photos(size=32)["camera"], gaussian_kernel(1.5), "reflect")
    default = Deblurrer(device="cpu", pnp_ensemble=1)
    pixel = Deblurrer(device="cpu", pnp_ensemble=1, blind_prior="pixel")
    assert default.blind_prior == "blocked"
    kernel = default.blind_kernels(y)[0]
    assert kernel.shape != (1, 1)  # deconvolved, not only denoised (the plain denoiser serves both settings)
    assert torch.equal(pixel.blind_kernels(y)[0], kernel)  # the setting moves the prior, not the kernel
    only = {name: Deblurrer(device="cpu", pnp_ensemble=1, denoiser_weights=str(f.path))  # that file at every level
            for name, f in (("pixel", Deblurrer.prior_file), ("blocked", Deblurrer.heavy_noise_prior_file))}
    blind_blocked, blind_pixel = default.restore(y, sigma=0.01), pixel.restore(y, sigma=0.01)
    assert torch.equal(blind_blocked, only["blocked"].restore(y, sigma=0.01))
    assert torch.equal(blind_pixel, only["pixel"].restore(y, sigma=0.01))
    assert not torch.equal(blind_blocked, blind_pixel)
    # a kernel given is exact: both settings deconvolve it with the default prior
    given = default.restore(y, kernel=kernel, sigma=0.01)
    assert torch.equal(given, pixel.restore(y, kernel=kernel, sigma=0.01))
    assert torch.equal(given, only["pixel"].restore(y, kernel=kernel, sigma=0.01))
    with pytest.raises(InvalidInputError, match="blind_prior must be one of"):
        Deblurrer(device="cpu", blind_prior="sharp")


@needs_denoiser
def test_given_prior_chooses_or_averages_the_two_pinned_priors():
    from pixelsmith_deblur.deblur import PRIOR_MAX_NOISE, Deblurrer

    clean = test_photos(size=32)["camera"]
    k = gaussian_kernel(1.2)
    y = blur_with_kernel(clean, k, "reflect")
    restore = {choice: Deblurrer(device="cpu", pnp_ensemble=1, given_prior=choice).restore(y, kernel=k, sigma=0.01)
               for choice in ("pixel", "blocked", "both")}
    assert Deblurrer(device="cpu").given_prior == "pixel"
    # independently: plug-and-play run by hand with unet-denoise on each file, and on the two averaged
    nets = [pixelsmith.restorer("unet-denoise", device="cpu", weights=str(f.path), ensemble=1)
            for f in (Deblurrer.prior_file, Deblurrer.heavy_noise_prior_file)]
    level = torch.tensor([0.01])

    def by_hand(*priors):
        def denoise(v, s):
            return sum(p.restore(v, sigma=s) for p in priors) / len(priors)
        return pnp_deconvolve(y, as_kernel_batch(k, 1), denoise, level).clamp(0, 1)

    torch.testing.assert_close(restore["pixel"], by_hand(nets[0]), atol=1e-5, rtol=0)
    torch.testing.assert_close(restore["blocked"], by_hand(nets[1]), atol=1e-5, rtol=0)
    torch.testing.assert_close(restore["both"], by_hand(*nets), atol=1e-5, rtol=0)
    assert (restore["both"] - restore["pixel"]).abs().max() > 1e-3
    # above the pixel prior's noise range every choice is the heavy-noise prior alone
    high = {choice: Deblurrer(device="cpu", pnp_ensemble=1, given_prior=choice).restore(
        y, kernel=k, sigma=2 * PRIOR_MAX_NOISE) for choice in ("pixel", "both")}
    assert torch.equal(high["pixel"], high["both"])
    with pytest.raises(InvalidInputError, match="given_prior must be one of"):
        Deblurrer(device="cpu", given_prior="sharp")
    with pytest.raises(InvalidInputError, match="two pinned priors"):
        Deblurrer(device="cpu", given_prior="both", denoiser_weights=str(Deblurrer.prior_file.path))


@needs_denoiser
def test_noise_above_the_priors_range_goes_to_the_heavy_noise_prior():
    from pixelsmith_deblur.deblur import PRIOR_MAX_NOISE, Deblurrer

    y = blur_with_kernel(test_photos(size=24)["camera"], gaussian_kernel(1.0), "reflect")
    k = gaussian_kernel(1.0)
    default = Deblurrer(device="cpu", pnp_ensemble=1)
    only = {name: Deblurrer(device="cpu", pnp_ensemble=1, denoiser_weights=str(f.path))  # that file at every level
            for name, f in (("light", Deblurrer.prior_file), ("heavy", Deblurrer.heavy_noise_prior_file))}
    for sigma, expected in ((PRIOR_MAX_NOISE / 2, "light"), (PRIOR_MAX_NOISE * 2, "heavy")):
        ours = default.restore(y, kernel=k, sigma=sigma)
        assert torch.equal(ours, only[expected].restore(y, kernel=k, sigma=sigma))
        other = "heavy" if expected == "light" else "light"
        assert not torch.equal(ours, only[other].restore(y, kernel=k, sigma=sigma))
    # with denoiser_weights= there is no hand-over: that file serves every level
    assert only["light"].heavy_noise_prior is only["light"].prior
