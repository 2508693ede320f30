"""Multi-scale SSIM (Wang, Simoncelli & Bovik 2003), per image.

Computed as pytorch-msssim computes it (the reference implementation most papers use): at each
of the five scales SSIM statistics with the 11×11, σ = 1.5 Gaussian window over the valid
region, contrast-structure terms of the first four scales and SSIM of the last, negatives
clipped to zero, raised to the standard weights and multiplied; between scales a 2×2 average
pool (odd sides padded with zeros, counted in the average); RGB averages the channels'
MS-SSIM.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F

from ...errors import InvalidInputError
from .._common import check_channel_space, check_data_range, check_pair, compute_dtype, to_channel_space
from .._filter import gaussian_window_1d
from .ssim import check_ssim_options, ssim_and_cs, ssim_settings

__all__ = ["ms_ssim", "ms_ssim_unchecked", "ms_ssim_settings", "MS_SSIM_WEIGHTS", "check_ms_ssim_weights",
           "ms_ssim_min_side"]

#: Scale weights of Wang et al. 2003 (from their psychophysical experiment), finest first.
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def check_ms_ssim_weights(weights: Sequence[float]) -> tuple[float, ...]:
    try:
        values = tuple(float(w) for w in weights)
    except (TypeError, ValueError):
        raise InvalidInputError(f"weights must be a sequence of numbers, got {weights!r}") from None
    if not values or any(not math.isfinite(w) or w < 0 for w in values):
        raise InvalidInputError(f"weights must be a non-empty sequence of non-negative numbers, got {weights!r}")
    return values


def ms_ssim_min_side(window_size: int, levels: int) -> int:
    """Smallest side (exclusive) that survives ``levels - 1`` halvings with a full window left."""
    return (window_size - 1) * 2 ** (levels - 1)


def ms_ssim_settings(data_range: float, window_size: int, sigma: float, k1: float, k2: float,
                     channel_space: str, weights: Sequence[float]) -> dict[str, object]:
    """SSIM's settings (each scale is an SSIM) plus what multi-scale adds."""
    return {
        **ssim_settings(data_range, window_size, sigma, k1, k2, channel_space),
        "weights": list(weights),
        "downsampling": "2×2 average pool, odd sides zero-padded (as pytorch-msssim)",
        "reduction": "product over scales per channel, then mean over channels, per image",
    }


def ms_ssim(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    data_range: float = 1.0,
    window_size: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
    weights: Sequence[float] = MS_SSIM_WEIGHTS,
    channel_space: str = "rgb",
) -> torch.Tensor:
    """MS-SSIM of each image in the batch: ``B×C×H×W`` pair -> ``Tensor[B]``.

    With the default five scales each side must be larger than 160 pixels
    (``(window_size - 1) · 2**(scales - 1)``); pass fewer ``weights`` for smaller images.
    Equals ``pytorch_msssim.ms_ssim(pred, target, data_range=..., size_average=False)``.
    """
    data_range = check_data_range(data_range)
    check_channel_space(channel_space)
    check_ssim_options(window_size, sigma, k1, k2)
    weights = check_ms_ssim_weights(weights)
    check_pair(pred, target, data_range)
    min_side = ms_ssim_min_side(window_size, len(weights))
    h, w = pred.shape[-2:]
    if min(h, w) <= min_side:
        raise InvalidInputError(
            f"MS-SSIM with {len(weights)} scales needs images larger than {min_side} pixels on each side, "
            f"got {h}×{w}; use SSIM, or fewer scales (e.g. weights=MS_SSIM_WEIGHTS[:3])"
        )
    return ms_ssim_unchecked(pred, target, data_range=data_range, window_size=window_size, sigma=sigma,
                             k1=k1, k2=k2, weights=weights, channel_space=channel_space)


def ms_ssim_unchecked(pred: torch.Tensor, target: torch.Tensor, *, data_range: float, window_size: int,
                      sigma: float, k1: float, k2: float, weights: Sequence[float],
                      channel_space: str) -> torch.Tensor:
    dtype = compute_dtype(pred)
    x = to_channel_space(pred.to(dtype), channel_space, data_range)
    y = to_channel_space(target.to(dtype), channel_space, data_range)
    window = gaussian_window_1d(window_size, sigma, torch.float64).tolist()
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    terms = []
    for level in range(len(weights)):
        last = level == len(weights) - 1
        ssim_c, cs_c = ssim_and_cs(x, y, window, c1, c2, want_cs=not last)
        if last:
            terms.append(torch.relu(ssim_c))
        else:
            assert cs_c is not None
            terms.append(torch.relu(cs_c))
            padding = (x.shape[-2] % 2, x.shape[-1] % 2)
            x = F.avg_pool2d(x, kernel_size=2, padding=padding)
            y = F.avg_pool2d(y, kernel_size=2, padding=padding)
    stacked = torch.stack(terms)  # levels × B × C
    w = torch.tensor(weights, dtype=stacked.dtype, device=stacked.device).view(-1, 1, 1)
    return stacked.pow(w).prod(dim=0).mean(dim=1)
