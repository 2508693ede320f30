"""``unet-denoise`` and ``unet-impulse``: the network input and the restorers.

Network input (3 channels): the noisy gray image, a noise-level map (σ, or the salt-and-pepper
amount, where known; 0 where unknown) and a "known" flag map (1 when the level was given, 0 when
blind). Training hides the level on half the patches, so with the flag at 0 the model is a blind
denoiser and with the flag at 1 it uses the given σ (FFDNet/DRUNet-style conditioning).
"""

from __future__ import annotations

from typing import Any

import torch

from pixelsmith import InvalidInputError

from .restorer import ResidualUNetRestorer, packaged_weights, per_image

__all__ = ["prepare_level_input", "UNetDenoiser", "UNetImpulse", "DENOISE_SHA256", "IMPULSE_SHA256"]

DENOISE_SHA256 = "f19d21e2cbc7f2caf03d13e5c1447d55eb4fdad8b1e4ec2d3ccfc2efd661d0cf"
IMPULSE_SHA256 = "41d5beb59cc5254c410ce73e5a65002de804a7d0f653304311dd06424d124d2d"


def prepare_level_input(x: torch.Tensor, level: torch.Tensor, kernels: list | None = None) -> torch.Tensor:
    """Stack (image, level map, known flag); ``level`` has one entry per image, NaN = unknown."""
    b, _, h, w = x.shape
    level = level.to(x.device, torch.float32).reshape(b, 1, 1, 1)
    known = torch.isfinite(level).float()
    lmap = torch.nan_to_num(level, nan=0.0) * known
    return torch.cat([x, lmap.expand(b, 1, h, w), known.expand(b, 1, h, w)], dim=1)


class UNetDenoiser(ResidualUNetRestorer):
    """Blind Gaussian denoiser; ``restore(x, sigma=25/255)`` uses a known σ (in [0, 1] units)."""

    weights_file = packaged_weights("pixelsmith_unet", "unet-denoise.safetensors", DENOISE_SHA256)

    def prepare(self, x: torch.Tensor, *, channels: int = 1, sigma: Any = None) -> torch.Tensor:
        n = x.shape[0]
        if sigma is None:
            level = torch.full((n,), float("nan"))
        else:
            level = per_image(sigma, n // channels, channels, "sigma")
            if bool((level > 1).any()):
                raise InvalidInputError(f"sigma is in [0, 1] units (σ/255 for 8-bit), got {level.max():.4g}")
        return prepare_level_input(x, level)


class UNetImpulse(ResidualUNetRestorer):
    """Salt-and-pepper denoiser; ``restore(x, amount=0.1)`` uses a known corrupted fraction."""

    weights_file = packaged_weights("pixelsmith_unet", "unet-impulse.safetensors", IMPULSE_SHA256)

    def prepare(self, x: torch.Tensor, *, channels: int = 1, amount: Any = None) -> torch.Tensor:
        n = x.shape[0]
        if amount is None:
            level = torch.full((n,), float("nan"))
        else:
            level = per_image(amount, n // channels, channels, "amount")
            if bool((level > 1).any()):
                raise InvalidInputError(f"amount is a fraction in [0, 1], got {level.max():.4g}")
        return prepare_level_input(x, level)
