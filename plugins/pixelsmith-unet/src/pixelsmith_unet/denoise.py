"""``unet-denoise`` and ``unet-impulse``: the network input and the restorers.

``unet-denoise`` network input (3 channels): the noisy gray image, a noise-level map (σ where
known, 0 where unknown) and a "known" flag map (1 when σ was given, 0 when blind). Training hides the level on half the patches, so with the flag at 0 the model is a blind
denoiser and with the flag at 1 it uses the given σ (FFDNet/DRUNet-style conditioning).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from pixelsmith import InvalidInputError

from .restorer import ResidualUNetRestorer, packaged_weights, per_image

__all__ = ["prepare_level_input", "prepare_impulse_input", "UNetDenoiser", "UNetImpulse", "DENOISE_SHA256", "IMPULSE_SHA256"]

DENOISE_SHA256 = "ebc56b94ad6841e78d3568f897b4f6c54f8b4dcf88c2bfa28c479b9e57b7a8c7"
IMPULSE_SHA256 = "b84e471742011455e403d9bde999888504c9005007e092e0184e493d10fd3663"


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


def _valid_median(x: torch.Tensor, valid: torch.Tensor, size: int = 5, rows: int = 128) -> torch.Tensor:
    """Median of the valid pixels in each size×size window (x itself where none is valid), row block by
    row block so a large image never needs size² copies of itself at once."""
    r = size // 2
    b, c, h, w = x.shape
    xp = F.pad(torch.where(valid, x, torch.full_like(x, float("nan"))), (r, r, r, r), value=float("nan"))
    out = torch.empty_like(x)
    for y0 in range(0, h, rows):
        y1 = min(h, y0 + rows)
        block = xp[:, :, y0:y1 + 2 * r]
        win = F.unfold(block.reshape(b * c, 1, *block.shape[-2:]), size)  # (bc, size², n)
        med = torch.nanmedian(win, dim=1).values.reshape(b, c, y1 - y0, w)
        out[:, :, y0:y1] = med
    return torch.where(torch.isnan(out), x, out)


def prepare_impulse_input(x: torch.Tensor, level: torch.Tensor | None = None, kernels: list | None = None
                          ) -> torch.Tensor:
    """Stack (pre-filled image, impulse mask, raw image) for a gray batch.

    Salt-and-pepper pixels are exactly 0 or 1, so they can be found: the mask marks them and the
    first channel replaces them by the median of the unmarked pixels in their 5×5 window (a
    switching median filter). The network refines that estimate; its residual is added to it.
    """
    mask = (x <= 0) | (x >= 1)
    filled = torch.where(mask, _valid_median(x, ~mask), x)
    return torch.cat([filled, mask.to(x.dtype), x], dim=1)


class UNetImpulse(ResidualUNetRestorer):
    """Salt-and-pepper (impulse) noise remover, blind: corrupted pixels are found by their value."""

    weights_file = packaged_weights("pixelsmith_unet", "unet-impulse.safetensors", IMPULSE_SHA256)

    def prepare(self, x: torch.Tensor, *, channels: int = 1) -> torch.Tensor:
        return prepare_impulse_input(x)
