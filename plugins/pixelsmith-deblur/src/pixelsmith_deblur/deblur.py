"""``deblur``: a residual U-Net for Gaussian and motion blur with noise, blind or kernel-aware.

Network input (3 channels): the blurred gray image; its Wiener deconvolution with the given
kernel (or the blurred image again when no kernel is given); a "known" flag map (1 with a kernel,
0 blind). Training hides the kernel on part of the patches, so one set of weights does both.

Blind restores (no ``kernel=``) first ask the kernel estimator (:mod:`.kernel_estimator`) which
Gaussian or motion blur made each image, and run the network with that kernel: knowing the
kernel is worth far more than the network can infer on its own. ``estimate_kernel=False`` runs
the network's own blind mode instead.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any, Sequence

import torch

from pixelsmith import InvalidInputError
from pixelsmith_unet.restorer import ResidualUNetRestorer, packaged_weights

from .kernel_estimator import KernelEstimate, KernelEstimator, load_kernel_estimator
from .wiener import DEFAULT_BALANCE, wiener_deconvolve

__all__ = ["prepare_deblur_input", "Deblurrer", "DEBLUR_SHA256", "KERNEL_ESTIMATOR_SHA256"]

DEBLUR_SHA256 = "3dd783a4182ac7684a99aea0d7cb32a963dcfb372693f18caac615fd9c3c1c40"
KERNEL_ESTIMATOR_SHA256 = "f8e0b5ae814779d6d1b4039c892f4a153f6abc2546db309dd9686e8ded6edfbc"


def prepare_deblur_input(x: torch.Tensor, level: torch.Tensor | None, kernels: Sequence[torch.Tensor | None]
                         ) -> torch.Tensor:
    """Stack (blurred, Wiener estimate or blurred, known flag) for a gray batch; ``kernels[i]`` None = blind."""
    b, _, h, w = x.shape
    second = x.clone()
    known = torch.zeros(b, 1, h, w, dtype=x.dtype, device=x.device)
    for i, k in enumerate(kernels):
        if k is not None:
            second[i:i + 1] = wiener_deconvolve(x[i:i + 1], k.to(x.device), DEFAULT_BALANCE)
            known[i] = 1.0
    return torch.cat([x, second, known], dim=1)


def _check_kernel(k: Any) -> torch.Tensor:
    t = torch.as_tensor(k, dtype=torch.float32)
    if t.ndim != 2 or t.shape[0] % 2 == 0 or t.shape[1] % 2 == 0:
        raise InvalidInputError(f"kernel must be a 2-D k×k array with odd sides, got shape {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()) or float(t.sum()) <= 0:
        raise InvalidInputError("kernel must be finite with a positive sum")
    return t / t.sum()


class Deblurrer(ResidualUNetRestorer):
    """Blind deblurring; ``restore(x, kernel=k)`` (k×k, e.g. ``info["kernel"]`` of a blur degradation)
    adds a Wiener estimate with that kernel to the network input. One kernel for the batch, or a
    list with one per image.

    Without ``kernel=`` each image's kernel is estimated (:meth:`estimate_kernels`) and used as if
    given; ``estimate_kernel=False`` uses the network's own blind mode. ``estimator_weights=PATH``
    replaces the packaged kernel-estimator weights.
    """

    weights_file = packaged_weights("pixelsmith_deblur", "deblur.safetensors", DEBLUR_SHA256)
    estimator_file = packaged_weights("pixelsmith_deblur", "kernel-estimator.safetensors", KERNEL_ESTIMATOR_SHA256)

    def __init__(self, device: str | None = None, *, estimator_weights: str | Path | None = None,
                 **options: Any) -> None:
        super().__init__(device, **options)
        self._estimator_source = estimator_weights if estimator_weights is not None else self.estimator_file

    @cached_property
    def estimator(self) -> KernelEstimator:
        """The blind kernel estimator, loaded on first use (kernel-given restores never need it)."""
        return load_kernel_estimator(self._estimator_source, self.device)

    def estimate_kernels(self, x: Any) -> list[KernelEstimate]:
        """The estimated blur of each image of ``x`` (B×C×H×W in [0, 1]): family, parameters, kernel."""
        from pixelsmith.tensors import as_image_batch

        return self.estimator(as_image_batch(x, name="x").to(self.device))

    def _infer(self, x: torch.Tensor, **params: Any) -> torch.Tensor:
        estimate = params.pop("estimate_kernel", True)
        if estimate not in (True, False):
            raise InvalidInputError(f"estimate_kernel must be True or False, got {estimate!r}")
        if params.get("kernel") is None and estimate:
            params["kernel"] = [e.kernel for e in self.estimator(x)]
        return super()._infer(x, **params)

    def prepare(self, x: torch.Tensor, *, channels: int = 1, kernel: Any = None) -> torch.Tensor:
        n = x.shape[0]
        b = n // channels
        if kernel is None:
            ks: list[torch.Tensor | None] = [None] * n
        else:
            if isinstance(kernel, (list, tuple)) and len(kernel) and not isinstance(kernel[0], (int, float)) \
                    and torch.as_tensor(kernel[0]).ndim == 2:
                if len(kernel) != b:
                    raise InvalidInputError(f"got {len(kernel)} kernels for {b} images; give one, or one per image")
                per = [_check_kernel(k) for k in kernel]
            else:
                per = [_check_kernel(kernel)] * b
            ks = [k for k in per for _ in range(channels)]
        return prepare_deblur_input(x, None, ks)
