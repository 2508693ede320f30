"""Tiled inference: run a model over overlapping tiles so memory stays bounded on any image size.

``tiled_apply(fn, x, tile=256, overlap=32)`` cuts ``x`` (B×C×H×W) into tiles of at most
``tile``×``tile`` whose neighbours share ``overlap`` pixels, calls ``fn`` on one tile position at
a time (the whole batch together, so per-image conditioning still lines up) and blends the outputs
with weights that are zero next to a tile's inner edges and rise linearly across the rest of each
overlap, so seams do not show. Pixels far from any tile border come from one tile only.

Fully-convolutional models whose receptive field (one side) fits in ``overlap // 4`` give the same result tiled
as untiled up to float rounding; for larger receptive fields (U-Nets) the difference shrinks
quickly as ``overlap`` grows. Models that downsample ``L`` times want every tile to start on the
same ``2^L`` grid as the whole image: pass ``align=2**L`` (tile starts are then multiples of it and
the image should already be padded to a multiple of it, see :func:`pad_to_multiple`).
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from .errors import InvalidInputError

__all__ = ["tiled_apply", "tile_starts", "pad_to_multiple", "pad_to_min_size"]


def tile_starts(size: int, tile: int, overlap: int, align: int = 1) -> list[int]:
    """Start offsets of tiles of length ``tile`` covering ``0..size`` with at least ``overlap`` shared.

    >>> tile_starts(10, 4, 2)
    [0, 2, 4, 6]
    >>> tile_starts(4, 8, 2)
    [0]
    """
    if tile >= size:
        return [0]
    stride = tile - overlap
    if stride < 1:
        raise InvalidInputError(f"overlap {overlap} must be smaller than tile {tile}")
    last = size - tile
    if align > 1:
        if last % align:
            raise InvalidInputError(
                f"size {size} and tile {tile} must be multiples of align {align}; pad the image first"
            )
        stride = (stride // align) * align
        if stride < 1:
            raise InvalidInputError(f"tile {tile} - overlap {overlap} must be at least align {align}")
    starts = list(range(0, last, stride))
    if not starts or starts[-1] != last:
        starts.append(last)
    return starts


def _ramp(starts: list[int], index: int, tile_len: int, device: torch.device) -> torch.Tensor:
    """1-D blending weights of one tile.

    Where a tile shares ``s`` pixels with a neighbour, its weight is 0 over the ``s // 4`` pixels
    nearest its edge (a model's output is least trustworthy there: it saw padding, not the image),
    then rises linearly to 1; the neighbour's weight falls the same way, so the two always sum to 1.
    """
    w = torch.ones(tile_len, device=device)
    pos = torch.arange(tile_len, device=device, dtype=torch.float32)
    if index > 0:
        shared = starts[index - 1] + tile_len - starts[index]
        if shared > 0:
            m = shared // 4
            w = torch.minimum(w, ((pos - m + 1) / (shared - 2 * m + 1)).clamp(0, 1))
    if index < len(starts) - 1:
        shared = starts[index] + tile_len - starts[index + 1]
        if shared > 0:
            m = shared // 4
            d = tile_len - 1 - pos
            w = torch.minimum(w, ((d - m + 1) / (shared - 2 * m + 1)).clamp(0, 1))
    return w


def tiled_apply(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, tile: int = 256,
                overlap: int = 32, *, align: int = 1) -> torch.Tensor:
    """Apply ``fn`` to ``x`` (B×C×H×W) tile by tile and blend the tiles back into one image.

    ``fn`` maps a B×C×h×w tile to B×C'×h×w (C' may differ from C). Images that fit in one tile
    are passed to ``fn`` whole. The output is float32 on ``x``'s device.
    """
    if x.ndim != 4:
        raise InvalidInputError(f"expected B×C×H×W, got {tuple(x.shape)}")
    if tile < 1 or overlap < 0:
        raise InvalidInputError(f"tile must be ≥ 1 and overlap ≥ 0, got tile={tile}, overlap={overlap}")
    if align > 1 and tile % align:
        raise InvalidInputError(f"tile {tile} must be a multiple of align {align}")
    b, _, h, w = x.shape
    if h <= tile and w <= tile:
        return fn(x).float()
    th, tw = min(tile, h), min(tile, w)
    ys = tile_starts(h, th, overlap, align)
    xs = tile_starts(w, tw, overlap, align)
    out: torch.Tensor | None = None
    weight = torch.zeros(1, 1, h, w, device=x.device)
    for iy, y0 in enumerate(ys):
        wy = _ramp(ys, iy, th, x.device)
        for ix, x0 in enumerate(xs):
            wx = _ramp(xs, ix, tw, x.device)
            piece = fn(x[:, :, y0:y0 + th, x0:x0 + tw]).float()
            if out is None:
                out = torch.zeros(b, piece.shape[1], h, w, device=x.device)
            win = (wy[:, None] * wx[None, :])[None, None]
            out[:, :, y0:y0 + th, x0:x0 + tw].addcmul_(piece, win)
            weight[:, :, y0:y0 + th, x0:x0 + tw].add_(win)
    assert out is not None
    return out.div_(weight.clamp_min_(1e-12))


def pad_to_min_size(x: torch.Tensor, size: int) -> torch.Tensor:
    """Pad ``x`` evenly on both sides of H and W up to at least ``size`` (unchanged when already that big).

    Reflect padding when each side is padded by less than the image's size, replicate otherwise.
    """
    h, w = x.shape[-2:]
    if h >= size and w >= size:
        return x
    ph, pw = max(0, size - h), max(0, size - w)
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), mode=mode)


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad the bottom and right of ``x`` so H and W are multiples of ``multiple``; returns (padded, (H, W)).

    Reflect padding where the image is large enough, replicate otherwise (a 1×1 image has nothing
    to reflect). Crop back with ``y[..., :H, :W]``.
    """
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x, (h, w)
    y = x
    # reflect needs pad < size; grow in steps so any size works (replicate for the 1-pixel case)
    while ph > 0 or pw > 0:
        cur_h, cur_w = y.shape[-2:]
        sh = min(ph, cur_h - 1)
        sw = min(pw, cur_w - 1)
        if sh <= 0 and ph > 0 or sw <= 0 and pw > 0:
            y = F.pad(y, (0, pw if sw <= 0 else 0, 0, ph if sh <= 0 else 0), mode="replicate")
            ph = 0 if sh <= 0 else ph
            pw = 0 if sw <= 0 else pw
            continue
        y = F.pad(y, (0, sw, 0, sh), mode="reflect")
        ph -= sh
        pw -= sw
    return y, (h, w)
