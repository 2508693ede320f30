"""Functional forms of the built-in metrics: plain functions of ``(pred, target)`` -> ``Tensor[B]``.

Each has a module form in :mod:`pixelsmith.metrics` (``PSNR``, ``SSIM``...) that carries its
settings; these take float tensors with values in ``[0, data_range]`` and check them.
"""

from .._common import rgb_to_y
from .ms_ssim import MS_SSIM_WEIGHTS, ms_ssim
from .mse import mse
from .psnr import psnr
from .ssim import ssim

__all__ = ["mse", "psnr", "ssim", "ms_ssim", "rgb_to_y", "MS_SSIM_WEIGHTS"]
