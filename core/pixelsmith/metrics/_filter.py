"""Separable Gaussian filtering in 'valid' mode, fast on the CPU.

SSIM only needs the filtered maps where the whole window lies inside the image: scikit-image
filters with reflection and then crops ``(win - 1) // 2`` pixels from each border, which leaves
exactly the positions a 'valid' filter produces, so no padding is ever needed.

Why not ``conv2d``: on the CPU, depthwise 1×11 and 11×1 convolutions are poorly served by
oneDNN (several times slower than scikit-image's scipy filters). Summing shifted views with the
symmetric taps folded (``g[k]·(x[k] + x[10-k])``) does ~6 multiply-adds per output and, run on
chunks that fit in cache, is memory-bound at cache speed rather than at DRAM speed.
"""

from __future__ import annotations

import concurrent.futures
from typing import Callable, TypeVar

import torch

T = TypeVar("T")

__all__ = ["gaussian_window_1d", "valid_filter", "window_radius", "batch_chunks", "map_chunks"]

# Elements per chunk of stacked maps on the CPU (4 MB of float32, one chunk per thread):
# large enough to amortise per-op overhead, small enough to stay mostly in L2/L3 cache.
_CPU_CHUNK_ELEMENTS = 1 << 20


def gaussian_window_1d(size: int, sigma: float, dtype: torch.dtype = torch.float32,
                       device: torch.device | str | None = None) -> torch.Tensor:
    """Normalised 1-D Gaussian of ``size`` taps (centred), computed in float64 then cast."""
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2.0 * sigma**2))
    return (g / g.sum()).to(dtype=dtype, device=device)


def window_radius(size: int) -> int:
    return (size - 1) // 2


def _filter_last_dim(x: torch.Tensor, taps: list[float]) -> torch.Tensor:
    size = len(taps)
    n_out = x.shape[-1] - size + 1
    r = size // 2
    out = x[..., r:r + n_out] * taps[r]
    for k in range(r):
        # Symmetric window: one multiply per pair of taps.
        out.add_(x[..., k:k + n_out] + x[..., size - 1 - k:size - 1 - k + n_out], alpha=taps[k])
    return out


def _filter_rows_then_cols(x: torch.Tensor, taps: list[float]) -> torch.Tensor:
    y = _filter_last_dim(x, taps)
    # The vertical pass on the transposed view: slicing along dim -2 keeps rows contiguous.
    size = len(taps)
    n_out = y.shape[-2] - size + 1
    r = size // 2
    out = y[..., r:r + n_out, :] * taps[r]
    for k in range(r):
        out.add_(y[..., k:k + n_out, :] + y[..., size - 1 - k:size - 1 - k + n_out, :], alpha=taps[k])
    return out


def valid_filter(x: torch.Tensor, window: torch.Tensor | list[float]) -> torch.Tensor:
    """Filter the last two dims of ``x`` with the separable symmetric ``window``, 'valid' mode.

    ``x``: ``...×H×W``; returns ``...×(H-k+1)×(W-k+1)``.
    """
    taps = window if isinstance(window, list) else [float(v) for v in window.double().cpu()]
    return _filter_rows_then_cols(x, taps)


def batch_chunks(n: int, elements_per_item: int, device: torch.device) -> list[slice]:
    """Slices of the batch small enough to stay in cache on the CPU; one slice elsewhere."""
    if device.type != "cpu":
        return [slice(0, n)]
    step = max(1, _CPU_CHUNK_ELEMENTS // max(1, elements_per_item))
    return [slice(i, min(n, i + step)) for i in range(0, n, step)]


def map_chunks(fn: Callable[[slice], T], chunks: list[slice], device: torch.device) -> list[T]:
    """``[fn(c) for c in chunks]``, on the CPU spread over torch's threads one chunk per thread.

    Why not torch's own intra-op threads: every elementwise op on a chunk then ends in an OpenMP
    barrier, and on a machine whose cores are shared with other processes a barrier waits for a
    descheduled thread; with ~40 small ops per chunk that made SSIM 10× slower under load. One
    chunk per Python thread (torch ops release the GIL) with intra-op threads set to 1 has no
    barriers. The thread count is restored before returning.
    """
    n_threads = torch.get_num_threads()
    if device.type != "cpu" or n_threads <= 1 or len(chunks) <= 1:
        return [fn(c) for c in chunks]
    torch.set_num_threads(1)
    try:
        with concurrent.futures.ThreadPoolExecutor(min(n_threads, len(chunks))) as pool:
            return list(pool.map(fn, chunks))
    finally:
        torch.set_num_threads(n_threads)
