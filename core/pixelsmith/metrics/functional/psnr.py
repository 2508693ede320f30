"""Peak signal-to-noise ratio, per image."""

from __future__ import annotations

import torch

from .._common import check_channel_space, check_data_range, check_pair
from .mse import mse_unchecked

__all__ = ["psnr", "psnr_unchecked"]


def psnr(pred: torch.Tensor, target: torch.Tensor, *, data_range: float = 1.0,
         channel_space: str = "rgb") -> torch.Tensor:
    """PSNR in dB of each image: ``10 · log10(data_range² / MSE)``, ``Tensor[B]``.

    Per image, never from the batch's pooled MSE (averaging these values is what papers report).
    Identical images have MSE 0 and give ``+inf``, as scikit-image's
    ``peak_signal_noise_ratio`` does: no cap, so a perfect result is never mistaken for a finite
    score; filter with ``torch.isfinite`` before averaging if that matters to you.

    >>> round(float(psnr(torch.full((1, 1, 8, 8), 0.5), torch.full((1, 1, 8, 8), 0.6))[0]), 4)
    20.0
    """
    data_range = check_data_range(data_range)
    check_channel_space(channel_space)
    check_pair(pred, target, data_range)
    return psnr_unchecked(pred, target, data_range=data_range, channel_space=channel_space)


def psnr_unchecked(pred: torch.Tensor, target: torch.Tensor, *, data_range: float,
                   channel_space: str) -> torch.Tensor:
    err = mse_unchecked(pred, target, channel_space=channel_space, data_range=data_range)
    # Division by zero is the documented +inf for identical images, not an error.
    return (10.0 * torch.log10(data_range**2 / err)).to(torch.float32)
