"""Blur kernels shared by the blur degradations and by restorers that need the kernel (Wiener...).

Kernels are ``k×k`` float32 tensors on the CPU that sum to 1; move them with ``.to(device)``.
"""

from __future__ import annotations

import math

import kornia
import torch

from ._params import check_number, check_odd_int

__all__ = ["gaussian_kernel", "motion_kernel", "default_gaussian_size"]


def default_gaussian_size(sigma: float) -> int:
    """``ceil(6σ)`` rounded up to odd (±3σ holds 99.7 % of the mass), at least 3."""
    size = max(3, math.ceil(6.0 * sigma))
    return size if size % 2 == 1 else size + 1


def gaussian_kernel(sigma: float, size: int | None = None) -> torch.Tensor:
    """Isotropic Gaussian kernel ``size×size`` (default :func:`default_gaussian_size`), sums to 1.

    >>> k = gaussian_kernel(1.0)
    >>> tuple(k.shape), round(float(k.sum()), 6)
    ((7, 7), 1.0)
    """
    sigma = check_number("sigma", sigma, low=0.0, low_open=True, hint="; use a positive blur width in pixels")
    size = default_gaussian_size(sigma) if size is None else check_odd_int(
        "kernel_size", size, hint="; leave it out for ceil(6·sigma) rounded up to odd")
    return kornia.filters.get_gaussian_kernel2d(size, (sigma, sigma))[0].contiguous()


def motion_kernel(length: int, angle: float, direction: float = 0.0) -> torch.Tensor:
    """Linear motion kernel ``length×length``: a line at ``angle`` degrees, sums to 1.

    ``direction`` in [-1, 1] skews the weight towards one end of the line (0: uniform), as in
    :func:`kornia.filters.get_motion_kernel2d`.

    >>> tuple(motion_kernel(9, 45.0).shape)
    (9, 9)
    """
    length = check_odd_int("length", length, hint="; motion length is the odd kernel size in pixels")
    angle = check_number("angle", angle, hint="; give the motion angle in degrees")
    direction = check_number("direction", direction, low=-1.0, high=1.0)
    return kornia.filters.get_motion_kernel2d(length, angle, direction)[0].contiguous()
