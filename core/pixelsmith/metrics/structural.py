"""Module forms of the structural metrics: :class:`SSIM` and :class:`MSSSIM`."""

from __future__ import annotations

from typing import Any, Sequence

import torch

from ..components import Metric
from ..errors import InvalidInputError
from ._common import check_channel_space, check_data_range
from .functional.ms_ssim import (
    MS_SSIM_WEIGHTS,
    check_ms_ssim_weights,
    ms_ssim_min_side,
    ms_ssim_settings,
    ms_ssim_unchecked,
)
from .functional.ssim import check_min_size, check_ssim_options, ssim_settings, ssim_unchecked

__all__ = ["SSIM", "MSSSIM"]


class SSIM(Metric):
    """SSIM per image with the Wang et al. 2004 settings by default (higher is better).

    Equals ``skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=1)``; images must be at least ``window_size``
    pixels on each side.
    """

    name = "ssim"
    higher_is_better = True

    def __init__(self, data_range: float = 1.0, channel_space: str = "rgb", window_size: int = 11,
                 sigma: float = 1.5, k1: float = 0.01, k2: float = 0.03) -> None:
        check_ssim_options(window_size, sigma, k1, k2)
        self.data_range = check_data_range(data_range)
        self.channel_space = check_channel_space(channel_space)
        self.window_size, self.sigma, self.k1, self.k2 = window_size, float(sigma), float(k1), float(k2)

    @property
    def settings(self) -> dict[str, Any]:
        return ssim_settings(self.data_range, self.window_size, self.sigma, self.k1, self.k2, self.channel_space)

    def _check_pair(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        super()._check_pair(pred, target)
        check_min_size(pred.shape, self.window_size, "SSIM")

    def _compute(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return ssim_unchecked(pred, target, data_range=self.data_range, window_size=self.window_size,
                              sigma=self.sigma, k1=self.k1, k2=self.k2, channel_space=self.channel_space)


class MSSSIM(Metric):
    """Multi-scale SSIM per image (higher is better), equal to pytorch-msssim's ``ms_ssim``.

    With the default five scales images must be larger than 160 pixels on each side.
    """

    name = "ms-ssim"
    higher_is_better = True

    def __init__(self, data_range: float = 1.0, channel_space: str = "rgb", window_size: int = 11,
                 sigma: float = 1.5, k1: float = 0.01, k2: float = 0.03,
                 weights: Sequence[float] = MS_SSIM_WEIGHTS) -> None:
        check_ssim_options(window_size, sigma, k1, k2)
        self.data_range = check_data_range(data_range)
        self.channel_space = check_channel_space(channel_space)
        self.window_size, self.sigma, self.k1, self.k2 = window_size, float(sigma), float(k1), float(k2)
        self.weights = check_ms_ssim_weights(weights)

    @property
    def settings(self) -> dict[str, Any]:
        return ms_ssim_settings(self.data_range, self.window_size, self.sigma, self.k1, self.k2,
                                self.channel_space, self.weights)

    def _check_pair(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        super()._check_pair(pred, target)
        min_side = ms_ssim_min_side(self.window_size, len(self.weights))
        h, w = pred.shape[-2:]
        if min(h, w) <= min_side:
            raise InvalidInputError(
                f"MS-SSIM with {len(self.weights)} scales needs images larger than {min_side} pixels on each "
                f"side, got {h}×{w}; use SSIM, or fewer scales (e.g. weights=(0.0448, 0.2856, 0.3001))"
            )

    def _compute(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return ms_ssim_unchecked(pred, target, data_range=self.data_range, window_size=self.window_size,
                                 sigma=self.sigma, k1=self.k1, k2=self.k2, weights=self.weights,
                                 channel_space=self.channel_space)
