"""Blur read from the power spectrum: the noise floor against Parseval, the anisotropic Gaussian and
continuous-line fits on blurs of known shape, and the misfit that ranks a true kernel above a look-alike."""

from __future__ import annotations

import math

import pytest
import torch

from pixelsmith.plugin import (
    anisotropic_gaussian_kernel,
    blur_with_kernel,
    dead_leaves,
    gaussian_noise_like,
    line_kernel,
)
from pixelsmith_deblur.spectral_blur import (
    ABOVE_NOISE,
    fit_anisotropic_gaussian,
    fit_line,
    gaussian_from_spectrum,
    spectral_misfit,
    welch_spectrum,
)


def _blurred(kernel: torch.Tensor, seed: int = 2, size: int = 192, noise: float = 0.01) -> torch.Tensor:
    clean = dead_leaves(1, seed=seed, size=size, channels=1)
    y = blur_with_kernel(clean, kernel, "reflect")
    return (y + gaussian_noise_like(y, noise, torch.Generator().manual_seed(seed))).clamp(0, 1)[0, 0]


def _angle_gap(a: float, b: float) -> float:
    d = abs(a - b) % 180.0
    return min(d, 180.0 - d)


def test_the_noise_floor_is_white_noise_power_by_parseval():
    sigma = 0.05
    noise = sigma * torch.randn(256, 256, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    s = welch_spectrum(noise, sigma)
    # what is left after the floor is subtracted averages to nothing, and almost no bin stands above it
    hann = torch.hann_window(64, periodic=False, dtype=torch.float64)
    floor = sigma ** 2 * float((hann[:, None] * hann[None, :]).square().sum())
    assert abs(float(s.power.mean())) < 0.05 * floor
    assert s.bins < 0.01 * s.power.numel()
    assert float(s.power.max()) < ABOVE_NOISE * floor


@pytest.mark.parametrize("along,across,angle", [(2.5, 0.7, 130.0), (2.0, 1.0, 20.0), (1.6, 1.6, 0.0)])
def test_the_fit_recovers_an_anisotropic_gaussian_blur(along, across, angle):
    y = _blurred(anisotropic_gaussian_kernel(along, across, angle))
    fit = fit_anisotropic_gaussian(welch_spectrum(y, 0.01))
    assert fit is not None
    got_along, got_across, got_angle = fit
    assert got_along == pytest.approx(along, abs=0.3) and got_across == pytest.approx(across, abs=0.3)
    if along > 1.2 * across:  # the axis of a round blur is arbitrary
        assert _angle_gap(got_angle, angle) < 6.0


def test_no_fit_on_a_flat_image_and_a_refusal_on_a_tiny_one():
    assert fit_anisotropic_gaussian(welch_spectrum(torch.full((96, 96), 0.5), 0.01)) is None
    assert gaussian_from_spectrum(welch_spectrum(torch.full((96, 96), 0.5), 0.01)) is None
    assert spectral_misfit(welch_spectrum(torch.full((96, 96), 0.5), 0.01), line_kernel(5.0, 0.0)) == math.inf
    with pytest.raises(ValueError, match="too small"):
        welch_spectrum(torch.rand(6, 100), 0.01)


@pytest.mark.parametrize("truth,other", [
    (line_kernel(11.0, 40.0), anisotropic_gaussian_kernel(11.0 / math.sqrt(12), 0.5, 40.0)),
    (anisotropic_gaussian_kernel(2.5, 0.7, 130.0), line_kernel(2.5 * math.sqrt(12), 130.0)),
])
def test_the_true_kernel_explains_the_spectrum_better_than_a_look_alike(truth, other):
    # the look-alike has the same second moments along the blur: only the spectrum's shape tells them apart
    s = welch_spectrum(_blurred(truth), 0.01)
    assert spectral_misfit(s, truth) < spectral_misfit(s, other)


def test_the_line_fit_finds_a_continuous_line_from_a_guess_that_is_off():
    y = _blurred(line_kernel(10.3, 62.0))
    length, angle, misfit = fit_line(welch_spectrum(y, 0.01), 8.5, 57.0)
    assert length == pytest.approx(10.3, abs=0.5) and _angle_gap(angle, 62.0) <= 2.0
    assert misfit == pytest.approx(spectral_misfit(welch_spectrum(y, 0.01), line_kernel(length, angle)))


def test_a_large_image_is_read_on_its_centre_crop(monkeypatch):
    import pixelsmith_deblur.spectral_blur as spectral

    y = torch.rand(100, 140, generator=torch.Generator().manual_seed(0))
    monkeypatch.setattr(spectral, "MAX_SIDE", 64)
    big, crop = spectral.welch_spectrum(y, 0.01, 32), spectral.welch_spectrum(y[18:82, 38:102], 0.01, 32)
    assert torch.equal(big.power, crop.power) and torch.equal(big.usable, crop.usable)
