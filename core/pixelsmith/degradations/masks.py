"""Inpainting masks: random brush strokes or boxes hiding a chosen fraction of each image."""

from __future__ import annotations

import math
from typing import Any

import torch

from ..components import Degradation
from ._params import check_choice, check_number

__all__ = ["InpaintingMask", "random_mask", "MASK_MODES"]

MASK_MODES = ("strokes", "boxes")
# Strokes and boxes are drawn until the target coverage is reached; the cap only guards against
# pathological tiny images where a draw can cover nothing new.
_MAX_DRAWS = 500


def _uniform(rng: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=rng))


def _draw_box(hole: torch.Tensor, rng: torch.Generator) -> None:
    h, w = hole.shape
    bh = max(1, round(_uniform(rng, 0.1, 0.35) * h))
    bw = max(1, round(_uniform(rng, 0.1, 0.35) * w))
    top = int(torch.randint(0, h - bh + 1, (), generator=rng))
    left = int(torch.randint(0, w - bw + 1, (), generator=rng))
    hole[top:top + bh, left:left + bw] = True


def _draw_stroke(hole: torch.Tensor, rng: torch.Generator, grid: tuple[torch.Tensor, torch.Tensor]) -> None:
    h, w = hole.shape
    side = min(h, w)
    radius = _uniform(rng, max(0.5, side / 40), max(1.0, side / 14))
    n_vertices = int(torch.randint(3, 8, (), generator=rng))
    y, x = _uniform(rng, 0, h - 1), _uniform(rng, 0, w - 1)
    angle = _uniform(rng, 0, 2 * math.pi)
    gy, gx = grid
    for _ in range(n_vertices):
        # A smooth-ish random walk: the heading turns by at most ±60° per segment.
        angle += _uniform(rng, -math.pi / 3, math.pi / 3)
        step = _uniform(rng, side / 10, side / 4)
        y1 = min(max(y + step * math.sin(angle), 0.0), h - 1.0)
        x1 = min(max(x + step * math.cos(angle), 0.0), w - 1.0)
        dy, dx = y1 - y, x1 - x
        seg2 = dy * dy + dx * dx
        t = (((gy - y) * dy + (gx - x) * dx) / seg2).clamp_(0, 1) if seg2 > 0 else torch.zeros_like(gy)
        dist2 = (gy - (y + t * dy)).square_() + (gx - (x + t * dx)).square_()
        hole |= dist2 <= radius * radius
        y, x = y1, x1


def random_mask(height: int, width: int, coverage: float, mode: str, rng: torch.Generator) -> torch.Tensor:
    """An ``H×W`` bool mask, True where the pixel is hidden, drawn until ``coverage`` is reached.

    The last stroke or box usually overshoots, so the hidden fraction is at least ``coverage``
    (unless the draw cap for tiny images is hit); the realised fraction is reported by
    :class:`InpaintingMask` in ``info["hidden_fraction"]``.
    """
    hole = torch.zeros(height, width, dtype=torch.bool)
    if coverage <= 0:
        return hole
    grid = None
    if mode == "strokes":
        gy, gx = torch.meshgrid(torch.arange(height, dtype=torch.float32),
                                torch.arange(width, dtype=torch.float32), indexing="ij")
        grid = (gy, gx)
    target = coverage * height * width
    for _ in range(_MAX_DRAWS):
        if grid is None:
            _draw_box(hole, rng)
        else:
            _draw_stroke(hole, rng, grid)
        if int(hole.sum()) >= target:
            break
    return hole


class InpaintingMask(Degradation):
    """Hide a fraction ``coverage`` of each image under random ``strokes`` or ``boxes``.

    Hidden pixels take the value ``fill``. ``info["mask"]`` is ``B×1×H×W`` float32 with 1 where
    the pixel is observed and 0 where it is missing (the convention of inpainting restorers);
    ``info["hidden_fraction"]`` the realised hidden fraction per image.
    """

    name = "inpainting-mask"

    def __init__(self, mode: str = "strokes", coverage: float = 0.25, fill: float = 0.0) -> None:
        self.mode = check_choice("mode", mode, MASK_MODES)
        self.coverage = check_number("coverage", coverage, low=0.0, high=0.9,
                                     hint="; coverage is the fraction of pixels to hide")
        self.fill = check_number("fill", fill, low=0.0, high=1.0, hint="; fill is the value of hidden pixels")

    @property
    def params(self) -> dict[str, Any]:
        return {"mode": self.mode, "coverage": self.coverage, "fill": self.fill}

    def _apply(self, x: torch.Tensor, rng: torch.Generator) -> tuple[torch.Tensor, dict[str, Any]]:
        b, _, h, w = x.shape
        holes = torch.stack([random_mask(h, w, self.coverage, self.mode, rng) for _ in range(b)])[:, None]
        observed = (~holes).to(torch.float32)
        out = torch.where(holes.to(x.device), torch.full_like(x, self.fill), x)
        return out, {"mask": observed, "hidden_fraction": holes.flatten(1).float().mean(1)}
