"""TV deconvolution (``tv-deconv``): what it solves, that it solves it, and that it beats Wiener."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.restoration import wiener

import pixelsmith
from pixelsmith.plugin import gaussian_kernel, line_kernel, motion_kernel, test_photos
from pixelsmith_classical import plugin
from pixelsmith_classical.tv_deconv import (
    TVDeconvRestorer,
    canvas_geometry,
    tv_deconvolve,
    tv_objective,
)


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(10 * torch.log10(1 / ((a.clamp(0, 1) - b) ** 2).mean()))


def _blurred(clean: torch.Tensor, name: str, params: dict, seed: int = 0):
    d = pixelsmith.degradation(name, noise=0.01, **params).apply(clean, seed=seed)
    return d.image, d.info["kernel"]


@pytest.fixture(scope="module")
def camera() -> torch.Tensor:
    return test_photos(channels=1, size=128)["camera"]


def _skimage_wiener_best(blurred: torch.Tensor, kernel: torch.Tensor, clean: torch.Tensor) -> float:
    """scikit-image's Wiener with the true kernel, reflect-padded, at its best balance for this image."""
    img = blurred[0, 0].double().numpy()
    # skimage convolves; the degradations correlate: flip the kernel
    psf = np.flip(kernel.double().numpy())
    pad = 2 * kernel.shape[-1]
    padded = np.pad(img, pad, mode="reflect")
    best = -np.inf
    for balance in (0.003, 0.01, 0.03, 0.1, 0.3):
        out = wiener(padded, psf, balance, clip=False)[pad:-pad, pad:-pad]
        best = max(best, _psnr(torch.from_numpy(np.clip(out, 0, 1)).float()[None, None], clean))
    return best


def test_registered_for_deblurring_with_the_kernel_required():
    spec = {s.name: s for s in plugin.pixelsmith_register_restorers()}["tv-deconv"]
    assert spec.tasks == ("deblur",) and spec.requires == ("kernel",) and spec.accepts == ("sigma",)
    assert spec.channels == (1, 3)
    assert pixelsmith.spec("restorer", "tv-deconv").tasks == ("deblur",)


def test_conformance_kit():
    from pixelsmith.testing import check_restorer

    check_restorer("tv-deconv")


@pytest.mark.parametrize("channels", [1, 3])
def test_delta_kernel_without_noise_returns_the_input(channels):
    x = test_photos(channels=channels, size=48)["chelsea" if channels == 3 else "coins"]
    delta = torch.zeros(5, 5)
    delta[2, 2] = 1
    out = pixelsmith.restorer("tv-deconv", device="cpu").restore(x, kernel=delta, sigma=0.0)
    assert float((out - x).abs().max()) < 1e-3


# Measured margins on camera (128² crop): Gaussian +0.07 dB over scikit-image's Wiener at its best
# balance for this very image (an oracle no user has), +0.95 over the `wiener` restorer; motion +3.9 / +3.8.
@pytest.mark.parametrize("name, params, over_best, over_restorer", [
    ("gaussian-blur", {"sigma": 2.0}, 0.0, 0.5),
    ("motion-blur", {"length": 9, "angle": 30.0}, 3.0, 3.0),
])
def test_beats_scikit_image_wiener_with_the_true_kernel(camera, name, params, over_best, over_restorer):
    blurred, kernel = _blurred(camera, name, params)
    tv = pixelsmith.restorer("tv-deconv", device="cpu").restore(blurred, kernel=kernel, sigma=0.01)
    wiener_best = _skimage_wiener_best(blurred, kernel, camera)
    wiener_restorer = pixelsmith.restorer("wiener", device="cpu").restore(blurred, kernel=kernel, sigma=0.01)
    assert _psnr(tv, camera) > wiener_best + over_best
    assert _psnr(tv, camera) > _psnr(wiener_restorer, camera) + over_restorer
    assert _psnr(tv, camera) > _psnr(blurred, camera) + 3.0


def test_rgb_restores_every_channel(camera):
    clean = test_photos(channels=3, size=64)["chelsea"]
    blurred, kernel = _blurred(clean, "motion-blur", {"length": 7.5, "angle": 20.0, "kernel_type": "line"})
    out = pixelsmith.restorer("tv-deconv", device="cpu").restore(blurred, kernel=kernel, sigma=0.01)
    for c in range(3):
        assert _psnr(out[:, c:c + 1], clean[:, c:c + 1]) > _psnr(blurred[:, c:c + 1], clean[:, c:c + 1]) + 1.0


def test_objective_decreases_and_ends_below_the_true_image(camera):
    blurred, kernel = _blurred(camera, "motion-blur", {"length": 9, "angle": 30.0})
    weight = 1.4 * 0.01 ** 1.5
    history: list[torch.Tensor] = []
    canvas = tv_deconvolve(blurred, kernel, weight, iterations=60, return_canvas=True, history=history)
    objective = torch.stack(history)[:, 0]
    assert len(objective) == 60
    # ADMM need not descend at every step; here it does, up to float32 rounding
    assert bool((objective[1:] <= objective[:-1] * (1 + 1e-5)).all())
    assert float(objective[-1]) < 0.5 * float(objective[0])
    torch.testing.assert_close(tv_objective(canvas, blurred, kernel, weight)[0].double(), objective[-1],
                               rtol=1e-4, atol=0)
    # The sharp photograph, extended the way the degradation extended it (mirror), is one candidate:
    # the minimiser must do at least as well on the same objective.
    hp, wp, r0, c0 = canvas_geometry(*camera.shape[-2:], *kernel.shape)
    sharp = np.pad(camera[0, 0].double().numpy(), ((r0, hp - r0 - 128), (c0, wp - c0 - 128)), mode="reflect")
    truth = tv_objective(torch.from_numpy(sharp)[None, None], blurred.double(), kernel, weight)
    assert float(objective[-1]) < float(truth[0])


def test_weight_follows_the_noise_level_given_or_estimated(camera):
    r = TVDeconvRestorer("cpu")
    assert float(r.weight_for(torch.tensor([0.01]))[0]) == pytest.approx(1.4e-3)
    assert float(r.weight_for(torch.tensor([0.0]))[0]) == pytest.approx(r.min_weight)
    blurred, kernel = _blurred(camera, "gaussian-blur", {"sigma": 2.0})
    given = r.restore(blurred, kernel=kernel, sigma=0.01)
    estimated = r.restore(blurred, kernel=kernel)
    assert abs(_psnr(given, camera) - _psnr(estimated, camera)) < 0.3


def test_a_batch_with_one_kernel_per_image_equals_one_call_each(camera):
    clean = torch.cat([camera[..., :64, :64], camera[..., 64:, 64:]])
    k1, k2 = gaussian_kernel(1.5), line_kernel(6.0, 45.0)
    b1, _ = _blurred(clean[:1], "gaussian-blur", {"sigma": 1.5})
    b2 = pixelsmith.degradation("motion-blur", length=6.0, angle=45.0, kernel_type="line", noise=0.01)(clean[1:], seed=1)
    r = TVDeconvRestorer("cpu", iterations=30)
    together = r.restore(torch.cat([b1, b2]), kernel=[k1, k2], sigma=torch.tensor([0.01, 0.02]))
    alone = torch.cat([r.restore(b1, kernel=k1, sigma=0.01), r.restore(b2, kernel=k2, sigma=0.02)])
    torch.testing.assert_close(together, alone, atol=2e-5, rtol=0)


@pytest.mark.parametrize("params, match", [
    ({"kernel": torch.ones(1027, 3)}, "at most 1025"),
    ({"kernel": [motion_kernel(5, 0.0)] * 3}, "3 kernels for 1 images"),
    ({"kernel": -torch.ones(3, 3)}, "positive sum"),
    ({"kernel": gaussian_kernel(1.0), "sigma": 25}, "255"),
    ({"kernel": gaussian_kernel(1.0), "sigma": torch.tensor([0.1, 0.2])}, "one per image"),
])
def test_bad_parameters_are_clear_errors(camera, params, match):
    with pytest.raises(pixelsmith.InvalidInputError, match=match):
        pixelsmith.restorer("tv-deconv", device="cpu").restore(camera[..., :16, :16], **params)


def test_bad_constructor_options_are_clear_errors():
    with pytest.raises(pixelsmith.InvalidInputError, match="iterations"):
        TVDeconvRestorer("cpu", iterations=0)
    with pytest.raises(pixelsmith.InvalidInputError, match="weight_scale"):
        TVDeconvRestorer("cpu", weight_scale=-1.0)


def test_an_asymmetric_kernel_is_applied_the_way_the_degradations_apply_it(camera):
    from pixelsmith.plugin import shake_kernel

    k = shake_kernel(23.6, torch.Generator().manual_seed(666342188))
    assert not torch.allclose(k, torch.flip(k, (0, 1)))
    from pixelsmith.plugin import blur_with_kernel

    g = torch.Generator().manual_seed(0)
    blurred = (blur_with_kernel(camera, k) + 0.01 * torch.randn(camera.shape, generator=g)).clamp(0, 1)
    r = TVDeconvRestorer("cpu", iterations=50)
    right = _psnr(r.restore(blurred, kernel=k, sigma=0.01), camera)
    flipped = _psnr(r.restore(blurred, kernel=torch.flip(k, (0, 1)), sigma=0.01), camera)
    assert right > _psnr(blurred, camera) + 4.0 and right > flipped + 3.0
