"""Blur degradations (Gaussian, anisotropic Gaussian, linear motion, camera shake), optionally
followed by Gaussian noise.

``info["kernel"]`` is the exact ``k×k`` kernel applied (CPU float32, sums to 1) and
``info["border"]`` how the image was extended, so a non-blind deblurrer (Wiener, TV...) can be
given the true kernel. Every parameter is checked when the degradation is made, before any kernel
exists; the kernel against the image when it is applied.
"""

from __future__ import annotations

from typing import Any

import kornia
import torch
import torch.nn.functional as F

from ..components import Degradation
from ..errors import InvalidInputError
from ._params import check_choice, check_number
from .kernels import (
    MAX_PATH_LENGTH,
    anisotropic_gaussian_kernel,
    gaussian_kernel,
    line_kernel,
    motion_kernel,
    shake_kernel,
)
from .noise import gaussian_noise_like

__all__ = ["GaussianBlur", "AnisotropicBlur", "MotionBlur", "ShakeBlur", "BORDERS", "MOTION_KERNEL_TYPES",
           "blur_with_kernel"]

#: Border modes of :func:`kornia.filters.filter2d`.
BORDERS = ("reflect", "replicate", "circular", "constant")
#: Kernels of ``motion-blur``: Kornia's (angle quantised) or the continuous :func:`~.kernels.line_kernel`.
MOTION_KERNEL_TYPES = ("kornia", "line")
# Above this many kernel taps a direct correlation costs more than an FFT of the padded image
# (kernel side 65 and up): a 1025² kernel on a 4000² image would otherwise run for hours.
_FFT_TAPS = 64 * 64
_NOISE_HINT = "; noise is a σ in [0, 1] units, 0 for none"


def _correlate_fft(padded: torch.Tensor, kernel: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """'valid' correlation of an already padded batch with ``kernel``, through the FFT (float64)."""
    hp, wp = padded.shape[-2:]
    kh, kw = kernel.shape
    k = torch.zeros(hp, wp, dtype=torch.float64, device=padded.device)
    k[:kh, :kw] = kernel.to(padded.device, torch.float64)
    spectrum = torch.fft.rfft2(padded.double()) * torch.fft.rfft2(k).conj()
    return torch.fft.irfft2(spectrum, s=(hp, wp))[..., :h, :w].to(padded.dtype)


def blur_with_kernel(x: torch.Tensor, kernel: torch.Tensor, border: str = "reflect") -> torch.Tensor:
    """Correlate every channel of ``x`` with the 2-D ``kernel`` ('same' size) via Kornia.

    Large kernels (side 65 and up) go through the FFT instead, with the same border handling.
    """
    if kernel.ndim != 2:
        raise InvalidInputError(f"kernel must be a 2-D kH×kW tensor, got shape {tuple(kernel.shape)}")
    check_choice("border", border, BORDERS)
    kh, kw = kernel.shape
    h, w = x.shape[-2:]
    if border in ("reflect", "circular") and (kh // 2 >= h or kw // 2 >= w):
        raise InvalidInputError(
            f"a {kh}×{kw} kernel with border={border!r} needs images larger than {max(kh, kw) // 2} pixels "
            f"per side, got {h}×{w}; use a smaller kernel or border='replicate'"
        )
    kernel = kernel.to(x.device, x.dtype)
    if kh * kw <= _FFT_TAPS:
        return kornia.filters.filter2d(x, kernel[None], border_type=border)
    # Kornia's padding: (k - 1) // 2 before, the rest after
    top, left = (kh - 1) // 2, (kw - 1) // 2
    pad = (left, kw - 1 - left, top, kh - 1 - top)
    padded = F.pad(x, pad, mode=border) if border != "constant" else F.pad(x, pad, value=0.0)
    return _correlate_fft(padded, kernel, h, w)


class _KernelBlur(Degradation):
    kernel: torch.Tensor
    noise: float
    border: str

    def _kernel(self, rng: torch.Generator) -> torch.Tensor:
        return self.kernel

    def _apply(self, x: torch.Tensor, rng: torch.Generator) -> tuple[torch.Tensor, dict[str, Any]]:
        kernel = self._kernel(rng)
        out = blur_with_kernel(x, kernel, self.border)
        if self.noise > 0:
            out = out + gaussian_noise_like(out, self.noise, rng)
        return out, {"kernel": kernel.clone(), "noise_sigma": self.noise}

    def _check_common(self, noise: float, border: str) -> None:
        self.noise = check_number("noise", noise, low=0.0, high=1.0, hint=_NOISE_HINT)
        self.border = check_choice("border", border, BORDERS)


class GaussianBlur(_KernelBlur):
    """Isotropic Gaussian blur of width ``sigma`` pixels; kernel ``ceil(6σ)`` rounded to odd by default."""

    name = "gaussian-blur"

    def __init__(self, sigma: float = 1.6, kernel_size: int | None = None, noise: float = 0.0,
                 border: str = "reflect") -> None:
        self._check_common(noise, border)
        self.kernel = gaussian_kernel(sigma, kernel_size)
        self.sigma = float(sigma)
        self.kernel_size = int(self.kernel.shape[-1])

    @property
    def params(self) -> dict[str, Any]:
        return {"sigma": self.sigma, "kernel_size": self.kernel_size, "noise": self.noise, "border": self.border}


class AnisotropicBlur(_KernelBlur):
    """Gaussian blur of width ``sigma_x`` along ``angle`` degrees and ``sigma_y`` across it."""

    name = "anisotropic-blur"

    def __init__(self, sigma_x: float = 3.0, sigma_y: float = 1.0, angle: float = 0.0,
                 kernel_size: int | None = None, noise: float = 0.0, border: str = "reflect") -> None:
        self._check_common(noise, border)
        self.kernel = anisotropic_gaussian_kernel(sigma_x, sigma_y, angle, kernel_size)
        self.sigma_x, self.sigma_y, self.angle = float(sigma_x), float(sigma_y), float(angle)
        self.kernel_size = int(self.kernel.shape[-1])

    @property
    def params(self) -> dict[str, Any]:
        return {"sigma_x": self.sigma_x, "sigma_y": self.sigma_y, "angle": self.angle,
                "kernel_size": self.kernel_size, "noise": self.noise, "border": self.border}


class MotionBlur(_KernelBlur):
    """Linear motion blur over ``length`` pixels at ``angle`` degrees.

    ``kernel_type="kornia"`` (default): Kornia's motion kernel, ``length`` an odd int (the kernel
    side), the angle effectively quantised. ``kernel_type="line"``: :func:`~.kernels.line_kernel`, any real
    ``length`` ≥ 1 (the path length) and a kernel that changes continuously with the angle.
    """

    name = "motion-blur"

    def __init__(self, length: float = 9, angle: float = 0.0, direction: float = 0.0, noise: float = 0.0,
                 border: str = "reflect", kernel_type: str = "kornia") -> None:
        self._check_common(noise, border)
        self.kernel_type = check_choice("kernel_type", kernel_type, MOTION_KERNEL_TYPES)
        if kernel_type == "kornia":
            self.kernel = motion_kernel(length, angle, direction)  # type: ignore[arg-type]
            self.length: float = int(length)
        else:
            self.kernel = line_kernel(length, angle, direction)
            self.length = float(length)
        self.angle, self.direction = float(angle), float(direction)

    @property
    def params(self) -> dict[str, Any]:
        return {"length": self.length, "angle": self.angle, "direction": self.direction,
                "noise": self.noise, "border": self.border, "kernel_type": self.kernel_type}


class ShakeBlur(_KernelBlur):
    """Camera-shake blur: each call draws a random-walk path of ``length`` pixels from its seed.

    The path follows Boracchi & Foi (2012) (:func:`~.kernels.shake_trajectory`; ``anxiety`` in
    [0, 1] makes it wander more, 0 is a straight line) and is rasterised with sub-pixel accuracy.
    One kernel per call, shared by the batch; ``info["kernel"]`` is the one drawn.
    """

    name = "shake-blur"

    def __init__(self, length: float = 15.0, anxiety: float = 0.005, noise: float = 0.0,
                 border: str = "reflect") -> None:
        self._check_common(noise, border)
        self.length = check_number("length", length, low=1.0, high=MAX_PATH_LENGTH / 2,
                                   hint="; the path length in pixels")
        self.anxiety = check_number("anxiety", anxiety, low=0.0, high=1.0, hint="; 0 is a straight line")

    def _kernel(self, rng: torch.Generator) -> torch.Tensor:
        return shake_kernel(self.length, rng, anxiety=self.anxiety)

    @property
    def params(self) -> dict[str, Any]:
        return {"length": self.length, "anxiety": self.anxiety, "noise": self.noise, "border": self.border}
