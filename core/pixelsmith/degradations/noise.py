"""Noise degradations: Gaussian, Poisson (shot) and salt-and-pepper (impulse).

Every draw comes from the ``torch.Generator`` the caller passes, on the CPU, then moves to the
image's device: the same seed gives the same bytes on any device, and the global RNG is never
touched.
"""

from __future__ import annotations

from typing import Any

import torch

from ..components import Degradation
from ..errors import InvalidInputError
from ._params import check_number

__all__ = ["GaussianNoise", "PoissonNoise", "SaltAndPepper", "gaussian_noise_like"]


def gaussian_noise_like(x: torch.Tensor, sigma: float, rng: torch.Generator) -> torch.Tensor:
    """``σ·N(0, 1)`` shaped like ``x``, drawn on the CPU from ``rng``, on ``x``'s device."""
    noise = torch.randn(x.shape, generator=rng, dtype=torch.float32, device="cpu")
    return noise.mul_(sigma).to(x.device)


class GaussianNoise(Degradation):
    """Additive white Gaussian noise of standard deviation ``sigma`` (in [0, 1] units).

    ``clip=True`` (the default) clips the result to [0, 1], as an 8-bit camera would store it.
    ``clip=False`` keeps values outside [0, 1]: the protocol of the BM3D, DnCNN and DRUNet papers
    (and deepinv), needed to compare with their published figures. Restorers accept such input;
    metrics do not, so measure the restored output, not the noisy input.
    """

    name = "gaussian-noise"

    def __init__(self, sigma: float = 25 / 255, clip: bool = True) -> None:
        self.sigma = check_number("sigma", sigma, low=0.0, high=10.0,
                                  hint="; e.g. 25/255 for the usual σ=25 on 8-bit scale")
        if not isinstance(clip, bool):
            raise InvalidInputError(f"clip must be true or false, got {clip!r}")
        self.clip = clip

    @property
    def params(self) -> dict[str, Any]:
        return {"sigma": self.sigma, "clip": self.clip}

    def _apply(self, x: torch.Tensor, rng: torch.Generator) -> tuple[torch.Tensor, dict[str, Any]]:
        return x + gaussian_noise_like(x, self.sigma, rng), {"noise_sigma": self.sigma}


class PoissonNoise(Degradation):
    """Shot noise: ``Poisson(peak · x) / peak``; lower ``peak`` (photons at white) is noisier."""

    name = "poisson-noise"

    def __init__(self, peak: float = 30.0) -> None:
        # beyond 1e9 photons the noise is below float32 resolution: nothing left to simulate
        self.peak = check_number("peak", peak, low=0.0, high=1e9, low_open=True,
                                 hint="; peak is the photon count at white, e.g. 30")

    @property
    def params(self) -> dict[str, Any]:
        return {"peak": self.peak}

    def _apply(self, x: torch.Tensor, rng: torch.Generator) -> tuple[torch.Tensor, dict[str, Any]]:
        # The rate depends on x, so x comes to the CPU for the draw to stay device-independent.
        rate = x.detach().to("cpu", torch.float64) * self.peak
        counts = torch.poisson(rate, generator=rng)
        return (counts / self.peak).to(x.device, torch.float32), {}


class SaltAndPepper(Degradation):
    """Impulse noise: a fraction ``amount`` of pixel positions set to white (salt) or black (pepper).

    All channels of a hit pixel change together. ``info["mask"]`` (``B×1×H×W``, 1 = corrupted)
    tells restorers which pixels to distrust.
    """

    name = "salt-and-pepper"

    def __init__(self, amount: float = 0.05, salt_vs_pepper: float = 0.5) -> None:
        self.amount = check_number("amount", amount, low=0.0, high=1.0, hint="; amount is a fraction of pixels")
        self.salt_vs_pepper = check_number("salt_vs_pepper", salt_vs_pepper, low=0.0, high=1.0,
                                           hint="; it is the fraction of hits that are white")

    @property
    def params(self) -> dict[str, Any]:
        return {"amount": self.amount, "salt_vs_pepper": self.salt_vs_pepper}

    def _apply(self, x: torch.Tensor, rng: torch.Generator) -> tuple[torch.Tensor, dict[str, Any]]:
        b, _, h, w = x.shape
        hit = torch.rand(b, 1, h, w, generator=rng) < self.amount
        salt = torch.rand(b, 1, h, w, generator=rng) < self.salt_vs_pepper
        hit, salt = hit.to(x.device), salt.to(x.device)
        out = torch.where(hit, salt.to(x.dtype).expand_as(x), x)
        return out, {"mask": hit.to(torch.float32)}
