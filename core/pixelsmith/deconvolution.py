"""Deconvolution building blocks shared by the classical and learned deblurring restorers.

A blurred image ``y`` (``B×C×H×W``) is modelled as ``M (k ⋆ x)``: the sharp image ``x`` lives on a
larger **canvas** than ``y``, ``k ⋆`` is the blur (Kornia's 'same' correlation, what the blur
degradations apply) and ``M`` keeps the pixels of ``y``. The pixels outside ``y`` are unknowns, not
a guessed periodic or mirrored extension (Almeida & Figueiredo, *Deconvolving images with unknown
boundaries using the alternating direction method of multipliers*, IEEE TIP 2013). The canvas is
large enough that its own FFT wrap-around lies in the free border, so every operator here is a
product in the Fourier domain and nothing at the image's edges is treated as periodic.

:class:`BlurCanvas` holds the canvas, the mask and the operators for one batch;
:func:`as_kernel_batch` checks and normalises user kernels. Used by ``tv-deconv``
(pixelsmith-classical) and the plug-and-play path of ``deblur`` (pixelsmith-deblur).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from .errors import InvalidInputError

__all__ = ["BlurCanvas", "as_kernel_batch", "canvas_geometry", "MAX_KERNEL_SIDE"]

#: Largest kernel side accepted (the blur degradations' own limit).
MAX_KERNEL_SIDE = 1025


def as_kernel_batch(kernel: Any, batch: int) -> torch.Tensor:
    """``kernel`` as a ``B'×kH×kW`` float64 CPU tensor (B' = 1 or ``batch``), each summing to 1.

    Accepts one 2-D kernel (tensor, array or nested list), a ``B×kH×kW`` tensor, or a sequence of
    ``batch`` 2-D kernels (odd sides; different sizes are centred on a common canvas).
    """
    if isinstance(kernel, (list, tuple)) and kernel and not isinstance(kernel[0], (int, float)) \
            and torch.as_tensor(kernel[0]).ndim == 2:
        ks = [torch.as_tensor(k, dtype=torch.float64) for k in kernel]
        if len(ks) != batch:
            raise InvalidInputError(f"got {len(ks)} kernels for {batch} images; give one, or one per image")
        if len({tuple(k.shape) for k in ks}) > 1:
            if any(s % 2 == 0 for k in ks for s in k.shape):
                raise InvalidInputError("kernels of different sizes must have odd sides, to share their centre")
            side_h, side_w = max(k.shape[0] for k in ks), max(k.shape[1] for k in ks)
            padded = []
            for k in ks:
                dh, dw = (side_h - k.shape[0]) // 2, (side_w - k.shape[1]) // 2
                padded.append(torch.nn.functional.pad(k, (dw, dw, dh, dh)))
            ks = padded
        k = torch.stack(ks)
    else:
        try:
            k = torch.as_tensor(kernel.detach().cpu() if isinstance(kernel, torch.Tensor) else kernel,
                                dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise InvalidInputError(f"kernel must be a kH×kW array, got {type(kernel).__name__}") from exc
        while k.ndim > 3 and k.shape[0] == 1:
            k = k[0]
        if k.ndim == 2:
            k = k[None]
    if k.ndim != 3 or min(k.shape[1:]) < 1 or k.shape[0] not in (1, batch):
        raise InvalidInputError(f"kernel must be kH×kW (or one per image, B×kH×kW), got shape {tuple(k.shape)}")
    if max(k.shape[1:]) > MAX_KERNEL_SIDE:
        raise InvalidInputError(f"kernel sides must be at most {MAX_KERNEL_SIDE}, got {tuple(k.shape[1:])}")
    total = k.sum(dim=(1, 2))
    if not bool(torch.isfinite(k).all()) or bool((total <= 0).any()):
        raise InvalidInputError("kernel must be finite with a positive sum")
    return k / total[:, None, None]


def nice_size(n: int) -> int:
    """The smallest size ≥ n with no prime factor above 7 (fast FFT lengths)."""
    while True:
        m = n
        for p in (2, 3, 5, 7):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 1


def mirror_index(n_out: int, start: int, n: int, device: torch.device) -> torch.Tensor:
    """Indices into a length-``n`` axis for a symmetric extension placing index 0 at ``start``."""
    i = torch.remainder(torch.arange(n_out, device=device) - start, 2 * n)
    return torch.where(i >= n, 2 * n - 1 - i, i)


def canvas_geometry(h: int, w: int, kh: int, kw: int) -> tuple[int, int, int, int]:
    """``(canvas height, canvas width, row, column of the image's top-left pixel)`` for an
    ``h×w`` image and a ``kh×kw`` kernel.

    The free border holds what the kernel reaches from the image ((k − 1) // 2 before, the rest
    after: Kornia's 'same' correlation) plus as much again on each side, so the canvas's own
    wrap-around (its top next to its bottom) lies well away from the image; then the canvas grows
    to a fast FFT length.
    """
    top, left = (kh - 1) // 2, (kw - 1) // 2
    return (nice_size(h + 3 * (kh - 1)), nice_size(w + 3 * (kw - 1)), top + kh - 1, left + kw - 1)


class BlurCanvas:
    """The canvas, the mask and the blur operators for a batch ``y`` and its kernels (``B'×kH×kW``,
    B' = 1 or B, each summing to 1; see :func:`as_kernel_batch`).

    Attributes: ``x0`` (the mirror extension of ``y``, a starting point), ``y`` (``y`` placed on the
    canvas, zeros outside), ``mask`` (1 on ``y``'s pixels), ``otf`` (the blur's transfer function),
    ``laplacian`` (the periodic Laplacian's symbol, for gradient regularisers).
    """

    def __init__(self, y: torch.Tensor, kernels: torch.Tensor, dtype: torch.dtype) -> None:
        b, c, h, w = y.shape
        kh, kw = kernels.shape[-2:]
        # correlation: blurred[i] = Σ_a k[a] x[i + a − (k − 1)//2] (Kornia's 'same' convention)
        self.top, self.left = (kh - 1) // 2, (kw - 1) // 2
        self.hp, self.wp, self.r0, self.c0 = canvas_geometry(h, w, kh, kw)
        self.h, self.w = h, w
        dev = y.device
        rows = mirror_index(self.hp, self.r0, h, dev)
        cols = mirror_index(self.wp, self.c0, w, dev)
        self.x0 = y.to(dtype)[:, :, rows][:, :, :, cols]
        self.mask = torch.zeros(1, 1, self.hp, self.wp, dtype=dtype, device=dev)
        self.mask[..., self.r0:self.r0 + h, self.c0:self.c0 + w] = 1
        self.y = torch.zeros(b, c, self.hp, self.wp, dtype=dtype, device=dev)
        self.y[..., self.r0:self.r0 + h, self.c0:self.c0 + w] = y.to(dtype)
        g = torch.zeros(kernels.shape[0], self.hp, self.wp, dtype=dtype, device=dev)
        g[:, :kh, :kw] = kernels.to(dev, dtype)
        g = torch.roll(g, shifts=(-self.top, -self.left), dims=(1, 2))
        self.otf = torch.fft.rfft2(g).conj()[:, None]  # B'×1×hp×(wp//2+1): K x = irfft(otf · x̂)
        fy = torch.fft.fftfreq(self.hp, device=dev, dtype=dtype)[:, None]
        fx = torch.fft.rfftfreq(self.wp, device=dev, dtype=dtype)[None, :]
        self.laplacian = (4 - 2 * torch.cos(2 * math.pi * fy) - 2 * torch.cos(2 * math.pi * fx))

    def blur(self, x_hat: torch.Tensor) -> torch.Tensor:
        return torch.fft.irfft2(self.otf * x_hat, s=(self.hp, self.wp))

    def blur_adjoint(self, v: torch.Tensor) -> torch.Tensor:
        """The adjoint of :meth:`blur` (a convolution with the flipped kernel), canvas to canvas."""
        return torch.fft.irfft2(self.otf.conj() * torch.fft.rfft2(v), s=(self.hp, self.wp))

    def crop(self, x: torch.Tensor) -> torch.Tensor:
        """The image's pixels of a canvas."""
        return x[..., self.r0:self.r0 + self.h, self.c0:self.c0 + self.w]
