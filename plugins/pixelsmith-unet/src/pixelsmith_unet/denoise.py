"""``unet-denoise`` and ``unet-impulse``: the network input and the restorers.

``unet-denoise`` network input (3 channels): the noisy gray image, a noise-level map (σ where
known, 0 where unknown) and a "known" flag map (1 when σ was given, 0 when blind). Training hides the level on half the patches, so with the flag at 0 the model is a blind
denoiser and with the flag at 1 it uses the given σ (FFDNet/DRUNet-style conditioning).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from pixelsmith.plugin import (InvalidInputError, ResidualUNetRestorer, WeightsFile, estimate_noise_sigma,
                               packaged_weights, per_image)

__all__ = ["prepare_level_input", "prepare_impulse_input", "UNetDenoiser", "UNetImpulse", "DENOISE_SHA256", "DENOISE_RGB_SHA256", "IMPULSE_SHA256"]

DENOISE_SHA256 = "d8adbc329501125e63c48708b8ecad1bcd45e56e7087080f1d67fb9531f8e197"
DENOISE_RGB_SHA256 = "987a0e084b10027723a679d3bb6e1afc18c795aa7da1efe344107c056110d3d1"
IMPULSE_SHA256 = "b84e471742011455e403d9bde999888504c9005007e092e0184e493d10fd3663"


def prepare_level_input(x: torch.Tensor, level: torch.Tensor, kernels: list | None = None) -> torch.Tensor:
    """Stack (image, level map, known flag); ``level`` has one entry per image, NaN = unknown."""
    b, _, h, w = x.shape
    level = level.to(x.device, torch.float32).reshape(b, 1, 1, 1)
    known = torch.isfinite(level).float()
    lmap = torch.nan_to_num(level, nan=0.0) * known
    return torch.cat([x, lmap.expand(b, 1, h, w), known.expand(b, 1, h, w)], dim=1)


#: Geometric self-ensemble of ``unet-denoise`` by default: 4 flips/quarter turns. Chosen on the validation
#: photographs and dead leaves of seed 1 (+0.21/+0.22/+0.26 dB at σ 15/25/50 on the photographs over one
#: pass, +0.16/+0.11/+0.07 on the leaves; 8 gave +0.02–0.10 more for twice the time) within the speed
#: budget of ≥ 10× BM3D (about 15× on one CPU thread at 256²); ``ensemble=1`` is the single pass.
DEFAULT_ENSEMBLE = 4


class UNetDenoiser(ResidualUNetRestorer):
    """Gaussian denoiser, blind or with a known σ: ``restore(x)`` or ``restore(x, sigma=25/255)``
    (σ in [0, 1] units, one for the batch or one per image).

    ``blind``: what "σ unknown" means. ``"estimate"`` (the default) estimates each image's σ by patch
    PCA (:func:`pixelsmith.plugin.estimate_noise_sigma`, not fooled by texture) and runs the
    network as if σ were given; ``"network"`` uses the network's own blind mode. ``ensemble``
    (default 4, :data:`DEFAULT_ENSEMBLE`): the network is averaged over that many flips/quarter turns
    of the input; 1 is a single pass, four times faster.

    ``clip_input`` (default True): noisy values outside [0, 1] (unclipped noise, the literature's
    protocol) are clipped to [0, 1] before anything else, as the packaged networks saw them in training:
    on the choice set this gained 1.1–1.9 dB at σ 50 over handing them the raw values, and beat a
    fine-tune on unclipped noise (see the model card). ``False`` gives the network the raw values.

    Colour images go through the joint colour network when one is available (the packaged
    ``unet-denoise-rgb`` weights, or ``colour_weights=PATH``); ``colour_weights="per-channel"``
    restores them channel by channel with the gray network instead. ``weights=`` replaces the gray
    network (a colour weights file given as ``weights=`` serves RGB input only).
    """

    weights_file = packaged_weights("pixelsmith_unet", "unet-denoise.safetensors", DENOISE_SHA256)
    colour_weights_file: WeightsFile | None = packaged_weights("pixelsmith_unet", "unet-denoise-rgb.safetensors",
                                                               DENOISE_RGB_SHA256)
    local_prepare = True

    def __init__(self, device: Any = None, *, blind: str = "estimate", colour_weights: Any = None,
                 ensemble: int = DEFAULT_ENSEMBLE, clip_input: bool = True, **options: Any) -> None:
        super().__init__(device, ensemble=ensemble, **options)
        if blind not in ("estimate", "network"):
            raise InvalidInputError(f"blind must be 'estimate' (patch-PCA noise estimate) or 'network', got {blind!r}")
        if not isinstance(clip_input, bool):
            raise InvalidInputError(f"clip_input must be True or False, got {clip_input!r}")
        self.blind, self.clip_input = blind, clip_input
        self._options = dict(options, device=device, ensemble=ensemble, clip_input=clip_input)
        if colour_weights is None:
            colour_weights = self.colour_weights_file if options.get("weights") is None else "per-channel"
        self._colour_source = colour_weights
        self._colour: UNetDenoiser | None = None

    def _colour_network(self) -> "UNetDenoiser | None":
        if self.model_channels == 3 or self._colour_source in (None, "per-channel"):
            return None
        if self._colour is None:
            opts = {k: v for k, v in self._options.items() if k != "weights"}
            self._colour = UNetDenoiser(blind=self.blind, colour_weights="per-channel",
                                        weights=self._colour_source, **opts)
            if self._colour.model_channels != 3:
                raise InvalidInputError(f"colour_weights {self._colour_source} is not a colour (3-channel) network")
        return self._colour

    def _infer(self, x: torch.Tensor, **params: Any) -> torch.Tensor:
        if self.clip_input:  # the networks were trained on inputs in [0, 1]; σ is estimated on them too
            x = x.clamp(0, 1)
        if x.shape[1] == 3 and (colour := self._colour_network()) is not None:
            return colour._infer(x, **params)
        return super()._infer(x, **params)

    def conditioning(self, x: torch.Tensor, *, channels: int = 1, sigma: Any = None) -> torch.Tensor:
        """σ per batch entry: the given one, the patch-PCA estimate, or NaN (the network's blind mode)."""
        n = x.shape[0]
        if sigma is not None:
            level = per_image(sigma, n // channels, channels, "sigma")
            if bool((level > 1).any()):
                raise InvalidInputError(f"sigma is in [0, 1] units (σ/255 for 8-bit), got {level.max():.4g}")
            return level
        if self.blind == "network":
            return torch.full((n,), float("nan"))
        # per image: the noise is the same in every channel of an image, so estimate it on all of them
        b = n // channels
        est = estimate_noise_sigma(x.reshape(b, channels * x.shape[1], *x.shape[-2:]))
        return est.repeat_interleave(channels)

    def stack(self, tile: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        return prepare_level_input(tile, values)

    def prepare(self, x: torch.Tensor, *, channels: int = 1, sigma: Any = None) -> torch.Tensor:
        return self.stack(x, self.conditioning(x, channels=channels, sigma=sigma))


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
