"""Built-in seeded degradations, each taking its randomness from the generator it is given.

>>> import torch, pixelsmith
>>> d = pixelsmith.degradation("gaussian-blur", sigma=2.0, noise=0.01)
>>> out = d.apply(torch.full((1, 1, 32, 32), 0.5), seed=0)
>>> tuple(out.info["kernel"].shape)
(13, 13)
"""

from . import kernels
from ._registration import builtin_degradation_specs
from .blur import BORDERS, GaussianBlur, MotionBlur, blur_with_kernel
from .kernels import gaussian_kernel, motion_kernel
from .masks import MASK_MODES, InpaintingMask, random_mask
from .noise import GaussianNoise, PoissonNoise, SaltAndPepper

__all__ = [
    "GaussianNoise",
    "PoissonNoise",
    "SaltAndPepper",
    "GaussianBlur",
    "MotionBlur",
    "InpaintingMask",
    "blur_with_kernel",
    "gaussian_kernel",
    "motion_kernel",
    "random_mask",
    "kernels",
    "builtin_degradation_specs",
    "BORDERS",
    "MASK_MODES",
]
