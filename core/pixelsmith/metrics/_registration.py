"""The specs the built-in plugin registers for pixelsmith's own metrics."""

from __future__ import annotations

from ..specs import MetricSpec
from .pixelwise import MSE, PSNR
from .structural import MSSSIM, SSIM

__all__ = ["builtin_metric_specs"]

_VERSION = "1.0.0"


def builtin_metric_specs() -> list[MetricSpec]:
    return [
        MetricSpec(name="mse", factory=MSE, summary="Mean squared error per image",
                   higher_is_better=False, data_range=None, version=_VERSION),
        MetricSpec(name="psnr", factory=PSNR, summary="Peak signal-to-noise ratio in dB per image (+inf if identical)",
                   higher_is_better=True, data_range=1.0, version=_VERSION),
        MetricSpec(name="ssim", factory=SSIM,
                   summary="SSIM per image, Wang et al. 2004 settings (11x11 Gaussian, sigma 1.5), equals scikit-image",
                   higher_is_better=True, data_range=1.0, version=_VERSION),
        MetricSpec(name="ms-ssim", factory=MSSSIM,
                   summary="Multi-scale SSIM per image (5 scales, Wang et al. 2003 weights), equals pytorch-msssim",
                   higher_is_better=True, data_range=1.0, version=_VERSION),
    ]
