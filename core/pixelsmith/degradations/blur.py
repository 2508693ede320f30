"""Blur degradations: Gaussian and linear motion blur, optionally followed by Gaussian noise.

``info["kernel"]`` is the exact ``k×k`` kernel applied (CPU float32, sums to 1) and
``info["border"]`` how the image was extended, so a non-blind deblurrer (Wiener, …) can invert it.
"""

from __future__ import annotations

from typing import Any

import kornia
import torch

from ..components import Degradation
from ..errors import InvalidInputError
from ._params import check_choice, check_number
from .kernels import gaussian_kernel, motion_kernel
from .noise import gaussian_noise_like

__all__ = ["GaussianBlur", "MotionBlur", "BORDERS", "blur_with_kernel"]

#: Border modes of :func:`kornia.filters.filter2d`.
BORDERS = ("reflect", "replicate", "circular", "constant")


def blur_with_kernel(x: torch.Tensor, kernel: torch.Tensor, border: str = "reflect") -> torch.Tensor:
    """Correlate every channel of ``x`` with the 2-D ``kernel`` ('same' size) via Kornia."""
    k = kernel.shape[-1]
    if border in ("reflect", "circular") and k // 2 >= min(x.shape[-2:]):
        raise InvalidInputError(
            f"a {k}×{k} kernel with border={border!r} needs images larger than {k // 2} pixels per side, "
            f"got {x.shape[-2]}×{x.shape[-1]}; use a smaller kernel or border='replicate'"
        )
    return kornia.filters.filter2d(x, kernel.to(x.device, x.dtype)[None], border_type=border)


class _KernelBlur(Degradation):
    kernel: torch.Tensor
    noise: float
    border: str

    def _apply(self, x: torch.Tensor, rng: torch.Generator) -> tuple[torch.Tensor, dict[str, Any]]:
        out = blur_with_kernel(x, self.kernel, self.border)
        if self.noise > 0:
            out = out + gaussian_noise_like(out, self.noise, rng)
        return out, {"kernel": self.kernel.clone(), "noise_sigma": self.noise}


class GaussianBlur(_KernelBlur):
    """Isotropic Gaussian blur of width ``sigma`` pixels; kernel ``ceil(6σ)`` rounded to odd by default."""

    name = "gaussian-blur"

    def __init__(self, sigma: float = 1.6, kernel_size: int | None = None, noise: float = 0.0,
                 border: str = "reflect") -> None:
        self.kernel = gaussian_kernel(sigma, kernel_size)
        self.sigma = float(sigma)
        self.kernel_size = int(self.kernel.shape[-1])
        self.noise = check_number("noise", noise, low=0.0, hint="; noise is a σ in [0, 1] units, 0 for none")
        self.border = check_choice("border", border, BORDERS)

    @property
    def params(self) -> dict[str, Any]:
        return {"sigma": self.sigma, "kernel_size": self.kernel_size, "noise": self.noise, "border": self.border}


class MotionBlur(_KernelBlur):
    """Linear motion blur over ``length`` pixels (odd) at ``angle`` degrees, via Kornia's motion kernel."""

    name = "motion-blur"

    def __init__(self, length: int = 9, angle: float = 0.0, direction: float = 0.0, noise: float = 0.0,
                 border: str = "reflect") -> None:
        self.kernel = motion_kernel(length, angle, direction)
        self.length, self.angle, self.direction = int(length), float(angle), float(direction)
        self.noise = check_number("noise", noise, low=0.0, hint="; noise is a σ in [0, 1] units, 0 for none")
        self.border = check_choice("border", border, BORDERS)

    @property
    def params(self) -> dict[str, Any]:
        return {"length": self.length, "angle": self.angle, "direction": self.direction,
                "noise": self.noise, "border": self.border}
