"""Blur read from the power spectrum: an anisotropic Gaussian fitted to it, and how well a kernel explains it.

A blur multiplies the image's spectrum by the kernel's transfer function ``K``, so the blurred image's
power is ``|K(f)|² P_x(f) + σ²``. Natural images have a power spectrum close to a power law,
``P_x(f) ≈ c |f|^(−β)``, whatever they show. Taking logs where the signal stands above the noise:

    log(P_y(f) − σ²) ≈ a − β log|f| + log|K(f)|².

- For a Gaussian of covariance Σ (any orientation and elongation), ``log|K(f)|² = −4π² fᵀΣf``, so the
  whole model is linear in (a, β, Σ): one least-squares fit gives Σ (:func:`fit_anisotropic_gaussian`).
  The learnt kernel estimator knows only isotropic Gaussians and straight lines, and names an elongated
  Gaussian a short line; this fit recovers it.
- For any given kernel, the same regression with ``log|K|²`` fixed and only (a, β) free leaves a
  residual (:func:`spectral_misfit`): how well that kernel explains the observed spectrum. Two candidate
  kernels for one image are compared by it. (A line's transfer function has zeros and ripples across its
  direction that no Gaussian has, which keeps the comparison sharp.)

**Not used by** ``deblur``'s **blind restores** (measured, 2026-12-01). On the 8-image choice set both
readings looked decisive: taking the anisotropic Gaussian when it explains the spectrum better than the
line, and the continuous line when its length agrees with the kernel estimator's, moved blind plug-and-play
from −0.40 to +0.26 dB over TV given the true kernel. On the wider choice data of
``benchmarks/deblur_line_policy.py`` (13 training photographs and 4 dead leaves, 11 kernels) the same rules
lost 0.2–0.6 dB against the refinement that ships (TV proxy), and on photographs the Gaussian "explained"
Kornia lines and camera shake better than the line did: a power law is a fair model of dead leaves and
a poor one of bricks, cells and clocks. The module stays for that benchmark and for later work on a rule
that holds; its fits are exact on images whose spectrum is a power law (tested).

The power spectrum is Welch's estimate (:func:`.kernel_estimator.welch_power`, the kernel estimator's own):
overlapping Hann-windowed tiles, |FFT|² averaged. Bins at
the lowest frequencies (where the window's leakage dominates) and bins within a factor
:data:`ABOVE_NOISE` of the noise floor are left out of every fit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from pixelsmith.plugin import anisotropic_gaussian_kernel, line_kernel

from .kernel_estimator import welch_power
from .l0_kernel import centre_crop

__all__ = ["WelchSpectrum", "welch_spectrum", "fit_anisotropic_gaussian", "gaussian_from_spectrum", "spectral_misfit",
           "fit_line", "WINDOW"]

#: Side of the Welch tiles (pixels; tiles overlap by half).
WINDOW = 64
#: Bins whose power is below this many noise floors carry little of the blur and are not fitted.
ABOVE_NOISE = 4.0
#: Fewer usable bins than this and no fit is attempted (a flat or tiny image).
MIN_BINS = 32
#: Larger images are read on their centre crop of this side (the blur is the same everywhere; a whole
#: 4000² image would hold 15,000 tiles in memory at once).
MAX_SIDE = 512
#: Widths fitted below this (pixels) are taken as this: a thinner Gaussian is a point at pixel scale.
MIN_WIDTH = 0.3


@dataclass(frozen=True)
class WelchSpectrum:
    """The Welch power spectrum of one gray image and the frequency bins fit to use."""

    power: torch.Tensor   # window×window, float64, unshifted (fftfreq order), noise floor subtracted
    fx: torch.Tensor      # horizontal frequency of each bin, cycles per pixel
    fy: torch.Tensor      # vertical frequency
    usable: torch.Tensor  # bool: above the noise and off the lowest frequencies

    @property
    def bins(self) -> int:
        return int(self.usable.sum())


def welch_spectrum(y: torch.Tensor, sigma: float, window: int = WINDOW) -> WelchSpectrum:
    """Welch's power spectrum of the gray image ``y`` (``H×W``) with noise σ ``sigma`` (the noise
    floor is subtracted). Images smaller than ``window`` use their smaller side (rounded down to even);
    images over :data:`MAX_SIDE` a side, their centre crop."""
    y = centre_crop(y.detach().double().cpu(), MAX_SIDE)
    window = min(window, min(y.shape) // 2 * 2)
    if window < 8:
        raise ValueError(f"a {tuple(y.shape)} image is too small for a power spectrum")
    power = welch_power(y[None, None], window)[0]
    taper = torch.hann_window(window, periodic=False, dtype=torch.float64)
    floor = float(sigma) ** 2 * float(taper.square().sum()) ** 2  # E|FFT(taper · white noise)|², taper separable
    f = torch.fft.fftfreq(window, dtype=torch.float64)
    fy, fx = torch.meshgrid(f, f, indexing="ij")
    radius = (fx.square() + fy.square()).sqrt()
    usable = (power > ABOVE_NOISE * floor) & (radius > 2.0 / window)
    return WelchSpectrum(power - floor, fx, fy, usable)


def _regress(design: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Least squares; the solution and the root mean square residual."""
    solution = torch.linalg.lstsq(design, target[:, None]).solution[:, 0]
    return solution, float((design @ solution - target).square().mean().sqrt())


def _power_law(s: WelchSpectrum) -> torch.Tensor:
    """The design columns of ``a − β log|f|`` on the usable bins."""
    radius = (s.fx.square() + s.fy.square()).sqrt()[s.usable]
    return torch.stack([torch.ones_like(radius), -torch.log(radius)], dim=-1)


def fit_anisotropic_gaussian(s: WelchSpectrum) -> tuple[float, float, float] | None:
    """The Gaussian blur (σ along, σ across, angle in degrees in [0, 180), the blur degradations'
    convention: x to the right, y down, counter-clockwise) that with a power law best explains ``s``;
    None when too few bins are usable or no Gaussian fits (the fitted covariance is not positive)."""
    if s.bins < MIN_BINS:
        return None
    fx, fy = s.fx[s.usable], s.fy[s.usable]
    c = -4 * math.pi ** 2
    design = torch.cat([_power_law(s), torch.stack([c * fx * fx, 2 * c * fx * fy, c * fy * fy], dim=-1)], dim=-1)
    solution, _ = _regress(design, torch.log(s.power[s.usable]))
    cov = torch.tensor([[solution[2], solution[3]], [solution[3], solution[4]]], dtype=torch.float64)
    values, vectors = torch.linalg.eigh(cov)  # ascending
    if float(values[1]) <= MIN_WIDTH ** 2:
        return None
    major = vectors[:, 1]  # (x, y) with y down; the angle counts counter-clockwise, so y flips
    angle = math.degrees(math.atan2(-float(major[1]), float(major[0]))) % 180.0
    return math.sqrt(float(values[1])), math.sqrt(max(float(values[0]), MIN_WIDTH ** 2)), angle


def gaussian_from_spectrum(s: WelchSpectrum, max_sigma: float = 8.0) -> torch.Tensor | None:
    """The kernel of :func:`fit_anisotropic_gaussian` (None as there; widths capped at ``max_sigma``)."""
    fit = fit_anisotropic_gaussian(s)
    if fit is None:
        return None
    along, across, angle = fit
    return anisotropic_gaussian_kernel(min(along, max_sigma), min(across, max_sigma), angle)


def spectral_misfit(s: WelchSpectrum, kernel: torch.Tensor) -> float:
    """Root mean square of ``log P_y − log|K|² − (a − β log|f|)`` over the usable bins, (a, β) fitted:
    how far the kernel's transfer function is from explaining the spectrum (smaller is better).
    ``kernel``: ``k×k`` (odd, up to the window's side), correlation centred on its middle tap."""
    if s.bins < MIN_BINS:
        return math.inf
    n = s.power.shape[0]
    k = kernel.detach().double().cpu()
    if k.shape[0] > n or k.shape[1] > n:
        raise ValueError(f"a {tuple(k.shape)} kernel is larger than the {n}² spectrum window")
    padded = torch.zeros(n, n, dtype=torch.float64)
    padded[:k.shape[0], :k.shape[1]] = k / k.sum()
    padded = torch.roll(padded, (-(k.shape[0] // 2), -(k.shape[1] // 2)), (0, 1))
    # |K|² is the same for correlation and convolution; the floor keeps a kernel's exact zeros finite
    transfer = torch.fft.fft2(padded).abs().square().clamp_min(1e-6)
    target = torch.log(s.power[s.usable]) - torch.log(transfer[s.usable])
    return _regress(_power_law(s), target)[1]


def fit_line(s: WelchSpectrum, length: float, angle: float, *, length_range: float = 4.0,
             angle_range: float = 8.0) -> tuple[float, float, float]:
    """The continuous straight line (:func:`pixelsmith.plugin.line_kernel`) whose transfer function best
    explains ``s`` (:func:`spectral_misfit`), searched within ``length_range`` pixels and ``angle_range``
    degrees of a first guess: a coarse grid, then a fine one about its best point. Returns (length,
    angle in [0, 180), misfit). The line's zeros across its direction, spaced by 1 / length, pin the
    length down to a fraction of a pixel."""
    def grid(lengths: torch.Tensor, angles: torch.Tensor, best: tuple[float, float, float]) -> tuple[float, float, float]:
        for n in lengths.tolist():
            for a in angles.tolist():
                if n >= 1.0:
                    m = spectral_misfit(s, line_kernel(n, a % 180.0))
                    if m < best[2]:
                        best = (n, a % 180.0, m)
        return best

    coarse = grid(torch.arange(-length_range, length_range + 1e-9, 0.5) + length,
                  torch.arange(-angle_range, angle_range + 1e-9, 2.0) + angle, (length, angle % 180.0, math.inf))
    return grid(torch.arange(-0.4, 0.41, 0.1) + coarse[0], torch.arange(-1.5, 1.51, 0.5) + coarse[1], coarse)
