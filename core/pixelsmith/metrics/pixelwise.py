"""Module forms of the pixel-wise metrics: :class:`MSE` and :class:`PSNR`."""

from __future__ import annotations

from typing import Any

import torch

from ..components import Metric
from ._common import check_channel_space, check_data_range
from .functional.mse import mse_unchecked
from .functional.psnr import psnr_unchecked

__all__ = ["MSE", "PSNR"]


class MSE(Metric):
    """Mean squared error per image (lower is better); ``MSE()(pred, target) -> Tensor[B]``."""

    name = "mse"
    higher_is_better = False

    def __init__(self, channel_space: str = "rgb") -> None:
        self.channel_space = check_channel_space(channel_space)

    @property
    def settings(self) -> dict[str, Any]:
        return {"channel_space": self.channel_space, "reduction": "mean over channels and pixels, per image",
                "accumulation": "float64"}

    def _compute(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return mse_unchecked(pred, target, channel_space=self.channel_space).to(torch.float32)


class PSNR(Metric):
    """PSNR in dB per image (higher is better); identical images give ``+inf`` (no cap).

    >>> round(float(PSNR()(torch.full((1, 1, 8, 8), 0.5), torch.full((1, 1, 8, 8), 0.6))[0]), 4)
    20.0
    """

    name = "psnr"
    higher_is_better = True

    def __init__(self, data_range: float = 1.0, channel_space: str = "rgb") -> None:
        self.data_range = check_data_range(data_range)
        self.channel_space = check_channel_space(channel_space)

    @property
    def settings(self) -> dict[str, Any]:
        return {"data_range": self.data_range, "channel_space": self.channel_space,
                "reduction": "per image (10·log10(data_range²/MSE)), never pooled over the batch",
                "identical_images": "+inf"}

    def _compute(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return psnr_unchecked(pred, target, data_range=self.data_range, channel_space=self.channel_space)
