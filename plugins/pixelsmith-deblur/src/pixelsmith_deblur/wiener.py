"""Wiener deconvolution in the Fourier domain, batched, with per-image kernels.

Used as an extra network input when the blur kernel is known: the network then only has to clean
up the Wiener estimate (ringing, amplified noise) instead of inverting the blur itself.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["wiener_deconvolve", "DEFAULT_BALANCE"]

#: Noise-to-signal regulariser; small enough to undo the blur, the network removes what it amplifies.
DEFAULT_BALANCE = 1e-2


def _otf(kernel: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Transfer function of correlating with ``kernel`` (what the blur degradations do) on an h×w grid."""
    k = torch.flip(kernel.float(), dims=(-2, -1))  # correlation = convolution with the flipped kernel
    kh, kw = k.shape[-2:]
    psf = torch.zeros(h, w, dtype=torch.float32, device=kernel.device)
    psf[:kh, :kw] = k
    psf = torch.roll(psf, shifts=(-(kh // 2), -(kw // 2)), dims=(0, 1))
    return torch.fft.rfft2(psf)


def wiener_deconvolve(x: torch.Tensor, kernel: torch.Tensor, balance: float = DEFAULT_BALANCE) -> torch.Tensor:
    """Wiener-deconvolve every channel of ``x`` (B×C×H×W) blurred by ``kernel`` (k×k).

    The image is reflect-padded by the kernel size first so the FFT's wrap-around does not ring
    at the borders. Output is clipped to [0, 1].
    """
    k = kernel.shape[-1]
    b, c, h, w = x.shape
    pad = min(k, h - 1, w - 1)
    xp = F.pad(x, (pad, pad, pad, pad), mode="reflect") if pad > 0 else x
    if k > min(xp.shape[-2:]):  # tiny images: replicate up to the kernel size
        extra = k
        xp = F.pad(xp, (extra, extra, extra, extra), mode="replicate")
        pad += extra
    hp, wp = xp.shape[-2:]
    otf = _otf(kernel.to(x.device), hp, wp)
    filt = otf.conj() / (otf.abs() ** 2 + balance)
    out = torch.fft.irfft2(torch.fft.rfft2(xp.float()) * filt, s=(hp, wp))
    return out[..., pad:pad + h, pad:pad + w].clamp(0, 1)
