"""Built-in seeded degradations, each taking its randomness from the generator it is given.

>>> import torch, pixelsmith
>>> d = pixelsmith.degradation("gaussian-blur", sigma=2.0, noise=0.01)
>>> out = d.apply(torch.full((1, 1, 32, 32), 0.5), seed=0)
>>> tuple(out.info["kernel"].shape)
(13, 13)
"""

from . import kernels
from ._registration import builtin_degradation_specs
from .blur import BORDERS, MOTION_KERNEL_TYPES, AnisotropicBlur, GaussianBlur, MotionBlur, ShakeBlur, blur_with_kernel
from .kernels import (
    MAX_KERNEL_SIZE,
    anisotropic_gaussian_kernel,
    gaussian_kernel,
    line_kernel,
    motion_kernel,
    shake_kernel,
)
from .masks import MASK_MODES, InpaintingMask, random_mask
from .noise import GaussianNoise, PoissonNoise, SaltAndPepper

__all__ = [
    "GaussianNoise",
    "PoissonNoise",
    "SaltAndPepper",
    "GaussianBlur",
    "MotionBlur",
    "AnisotropicBlur",
    "ShakeBlur",
    "InpaintingMask",
    "blur_with_kernel",
    "gaussian_kernel",
    "motion_kernel",
    "line_kernel",
    "anisotropic_gaussian_kernel",
    "shake_kernel",
    "MAX_KERNEL_SIZE",
    "random_mask",
    "kernels",
    "builtin_degradation_specs",
    "BORDERS",
    "MOTION_KERNEL_TYPES",
    "MASK_MODES",
]
