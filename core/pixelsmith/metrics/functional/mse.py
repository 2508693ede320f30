"""Mean squared error, per image."""

from __future__ import annotations

import torch

from .._common import check_channel_space, check_pair, to_channel_space

__all__ = ["mse", "mse_unchecked"]


def mse(pred: torch.Tensor, target: torch.Tensor, *, channel_space: str = "rgb") -> torch.Tensor:
    """Mean of the squared differences over channels and pixels of each image: ``Tensor[B]``.

    Accumulated in float64 (float32 on devices without it), so it matches numpy to the last digit
    that float32 input carries. Values are in the input's units squared: no ``data_range`` here.

    >>> mse(torch.zeros(2, 1, 4, 4), torch.full((2, 1, 4, 4), 0.5))
    tensor([0.2500, 0.2500])
    """
    check_channel_space(channel_space)
    check_pair(pred, target, 1.0, check_range=False)
    return mse_unchecked(pred, target, channel_space=channel_space).to(torch.float32)


def _wide_dtype(x: torch.Tensor) -> torch.dtype:
    return torch.float32 if x.device.type == "mps" else torch.float64


def mse_unchecked(pred: torch.Tensor, target: torch.Tensor, *, channel_space: str,
                  data_range: float = 1.0) -> torch.Tensor:
    """Per-image MSE in float64 (for PSNR, which needs the digits near identical images)."""
    dtype = _wide_dtype(pred)
    x = to_channel_space(pred.to(dtype), channel_space, data_range)
    y = to_channel_space(target.to(dtype), channel_space, data_range)
    return (x - y).square().flatten(1).mean(dim=1)
