"""Built-in full-reference metrics, each as a module (carries its settings) and a function.

>>> import torch, pixelsmith.metrics as pm
>>> x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
>>> pm.SSIM()(x, x)
tensor([1., 1.])
>>> pm.functional.psnr(x, (x * 0.5)).shape
torch.Size([2])
"""

from . import functional
from ._common import CHANNEL_SPACES
from ._registration import builtin_metric_specs
from .functional.ms_ssim import MS_SSIM_WEIGHTS
from .pixelwise import MSE, PSNR
from .structural import MSSSIM, SSIM

__all__ = ["MSE", "PSNR", "SSIM", "MSSSIM", "functional", "builtin_metric_specs", "CHANNEL_SPACES",
           "MS_SSIM_WEIGHTS"]
