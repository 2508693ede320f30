"""Blind kernel estimation for any blur shape: coarse-to-fine alternation with an L0 gradient prior.

The learnt estimator (:mod:`.kernel_estimator`) can only name a Gaussian or a straight motion blur.
Camera shake, curved paths and anisotropic defocus need a kernel of free shape. This module finds one
the classical way (Xu, Zheng & Jia, *Unnatural L0 sparse representation for natural image deblurring*,
CVPR 2013; Pan, Hu, Su & Yang, *Deblurring text images via L0-regularized intensity and gradient
prior*, CVPR 2014):

- the latent image step keeps only the strongest edges, ``min_x ‖k ⋆ x − y‖² + λ ‖∇x‖₀`` by
  half-quadratic splitting. Such an image is what makes the kernel step well posed: a full restoration
  carries texture that a wrong kernel has already shaped, and fitting to it confirms the wrong kernel.
- the kernel step is the gradient-domain least-squares fit under k ≥ 0 of
  :func:`.kernel_refine.fit_kernel_nonnegative`;
- both alternate on an image pyramid, from a 3-pixel kernel at the coarsest scale to the full support,
  with λ falling through the whole pyramid (carried from one scale to the next, as in Pan et al.'s
  reference code), so large blurs are found as small ones first: the coarse scales fit the kernel to the
  strongest edges only, the full scale to a latent image that keeps finer ones.

Known limits (measured on choice data, RESEARCH_LOG.md "Session 27"): the alternation's fixed point is not the true
kernel (refined from the true kernel, it drifts away on every one of 29 shaken cases; less with the exact kernel
fit, ``exact_fit``), and the outcome of a search can swing by several dB with the noise draw alone.

The result is centred on its centre of mass (the blur degradations' convention) to a fraction of a
pixel, so the deconvolved image is not shifted. FFTs are periodic, so the blurred image is
mirror-padded by the kernel's side and only the interior enters the kernel fit.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .kernel_refine import delta_kernel, fit_kernel_nonnegative

__all__ = ["estimate_kernel_l0", "DEFAULT_SUPPORT", "MIN_SIDE", "MAX_SEARCH_SIDE", "POLISH_LAMBDA", "POLISH_ROUNDS",
           "SEARCH_LAMBDA"]

#: Side of the estimated kernel (odd): blur paths up to about this many pixels across.
DEFAULT_SUPPORT = 25
#: Smallest image side searched (a smaller image has too few edges to pin a kernel down).
MIN_SIDE = 32
#: Larger images are searched on their centre crop of this side: the kernel is the same everywhere,
#: and the search's time grows with the pixels (a whole 1024² image took 53 s of one thread).
MAX_SEARCH_SIDE = 512
#: Scale step of the pyramid.
SCALE = 1 / math.sqrt(2)
#: Alternations of latent-image and kernel steps per scale.
ROUNDS = 5
#: Starting weight of the L0 gradient term (images in [0, 1]) of a search from scratch, divided by 1.1
#: after each round and carried across scales (about 4.4e-4 at the full scale of a 25 px search). Until
#: 2026-12-02 every scale restarted from 4e-3: on the choice data (17 training photographs and dead
#: leaves × 3 camera shakes of seed 500, noise 0.01; blind plug-and-play minus TV given the true kernel)
#: that gave −2.52 dB, the carried fall from 2e-2 −1.69 (better in 34 of 51 cases, worse in 8), from 4e-2
#: −1.89 (35 cases), from 1e-2 −2.86, from 4e-3 far worse; 2e-2 restarted at every scale −4.14. Given the
#: true kernel, the latent's fixed point is the true kernel only at small λ (≤ 1e-4 on texture such as
#: retina and brick), while a search started small stays at the identity: hence a fall.
SEARCH_LAMBDA = 2e-2
#: The same weight when refining a given kernel at full resolution only (``init``).
LAMBDA = 4e-3
LAMBDA_MIN = 1e-4
#: A search from scratch with the falling weight ends with this many more rounds at full scale, the weight
#: restarted at :data:`POLISH_LAMBDA` (falling as before). The pyramid ends near 4e-4, where the latent keeps
#: texture that pulls the fit off the path; the stronger edges at 1e-3 fit it better. Chosen on choice data
#: (2026-12-03, session 19; `runs/probe19`: the 17 images of ``deblur_line_policy.py`` × 3 camera shakes of
#: seed 500, noise 0.01, blind plug-and-play with the searched kernel minus TV given the true kernel): the
#: search −1.50 dB, polished at 1e-3 for 5 rounds −1.12 (better in 26 of 51 cases, worse in 5), 3 rounds
#: −1.09, 10 rounds −1.16; at 4e-4 −1.52, 2e-4 −1.94, 2e-3 −1.74, 4e-3 −1.87. On larger shakes (supports of
#: 19–27 px, seed 900) level: −3.31 → −3.34 (14 better, 14 worse; 4e-4: −3.41, 2e-3: −3.65).
POLISH_LAMBDA = 1e-3
POLISH_ROUNDS = 5


def _otf(k: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """The transfer function on a ``shape`` periodic grid of the correlation with the centred kernel ``k``."""
    kh, kw = k.shape
    pad = torch.zeros(shape, dtype=k.dtype)
    pad[:kh, :kw] = k.flip(0, 1)  # correlation = convolution with the flipped kernel
    return torch.fft.fft2(torch.roll(pad, shifts=(-(kh // 2), -(kw // 2)), dims=(0, 1)))


def _difference_otfs(shape: tuple[int, int], dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    dx = torch.zeros(shape, dtype=dtype)
    dx[0, 0], dx[0, -1] = -1.0, 1.0  # x[i, j] − x[i, j−1] … periodic forward differences
    dy = torch.zeros(shape, dtype=dtype)
    dy[0, 0], dy[-1, 0] = -1.0, 1.0
    return torch.fft.fft2(dx), torch.fft.fft2(dy)


def l0_latent(y: torch.Tensor, k: torch.Tensor, lam: float, *, kappa: float = 2.0,
              beta_max: float = 1e5) -> torch.Tensor:
    """``argmin_x ‖k ⋆ x − y‖² + λ‖∇x‖₀`` on the periodic grid of ``y`` (``H×W``, float64), by
    half-quadratic splitting (Xu et al. 2011): gradients below √(λ/β) are set to zero, then the
    quadratic problem is solved exactly in the Fourier domain, β doubling up to ``beta_max``."""
    shape = tuple(y.shape)
    kf = _otf(k, shape)
    fdx, fdy = _difference_otfs(shape, y.dtype)
    fy = torch.fft.fft2(y)
    num_data = kf.conj() * fy
    den_data = kf.abs().square()
    den_grad = fdx.abs().square() + fdy.abs().square()
    x = y.clone()
    beta = 2 * lam
    while beta < beta_max:
        h = torch.roll(x, -1, dims=1) - x
        v = torch.roll(x, -1, dims=0) - x
        keep = (h.square() + v.square()) >= lam / beta
        h, v = h * keep, v * keep
        # the differences above are x[j+1] − x[j]; their adjoint pairs with conj of the forward OTF
        fh, fv = torch.fft.fft2(h), torch.fft.fft2(v)
        num = num_data + beta * (fdx.conj() * fh + fdy.conj() * fv)
        x = torch.fft.ifft2(num / (den_data + beta * den_grad)).real
        beta *= kappa
    return x


def _resize_kernel(k: torch.Tensor, side: int) -> torch.Tensor:
    k = F.interpolate(k[None, None], size=(side, side), mode="bilinear", align_corners=True)[0, 0]
    k = k.clamp_min(0)
    return k / k.sum() if float(k.sum()) > 0 else delta_kernel(side, k.dtype)


def _padded_to(k: torch.Tensor, side: int) -> torch.Tensor:
    """An odd-sided kernel zero-padded (or cropped) to ``side×side`` about its centre, renormalised."""
    p = (side - k.shape[0]) // 2
    k = torch.nn.functional.pad(k, (p, p, p, p)) if p >= 0 else k[-p:p, -p:p]
    return k / k.sum()


def centre_kernel(k: torch.Tensor) -> torch.Tensor:
    """``k`` moved by whole pixels so its centre of mass is nearest the centre pixel (taps pushed out
    of the support are dropped; the kernel is renormalised)."""
    side_h, side_w = k.shape
    total = k.sum()
    if float(total) <= 0:
        return k
    rows = torch.arange(side_h, dtype=k.dtype)
    cols = torch.arange(side_w, dtype=k.dtype)
    cy = float((k.sum(1) * rows).sum() / total)
    cx = float((k.sum(0) * cols).sum() / total)
    dy, dx = round(side_h // 2 - cy), round(side_w // 2 - cx)
    if dy == 0 and dx == 0:
        return k
    out = torch.zeros_like(k)
    src = k[max(0, -dy):side_h - max(0, dy), max(0, -dx):side_w - max(0, dx)]
    out[max(0, dy):max(0, dy) + src.shape[0], max(0, dx):max(0, dx) + src.shape[1]] = src
    return out / out.sum() if float(out.sum()) > 0 else k


def centre_subpixel(k: torch.Tensor) -> torch.Tensor:
    """``k`` shifted by the fraction of a pixel (bilinear weights) that puts its centre of mass exactly
    on the centre pixel; call after :func:`centre_kernel`."""
    side_h, side_w = k.shape
    total = float(k.sum())
    if total <= 0:
        return k
    cy = float((k.sum(1) * torch.arange(side_h, dtype=k.dtype)).sum()) / total - side_h // 2
    cx = float((k.sum(0) * torch.arange(side_w, dtype=k.dtype)).sum()) / total - side_w // 2
    # out(p) = k(p + c): a convex combination of the four integer shifts around c
    fy, fx = math.floor(cy), math.floor(cx)
    ay, ax = cy - fy, cx - fx
    out = torch.zeros_like(k)
    for dy, wy in ((fy, 1 - ay), (fy + 1, ay)):
        for dx, wx in ((fx, 1 - ax), (fx + 1, ax)):
            if wy * wx > 0:
                out += wy * wx * torch.roll(torch.nn.functional.pad(k, (2, 2, 2, 2)), (-dy, -dx), (0, 1))[2:-2, 2:-2]
    return out / out.sum()


def centre_crop(y: torch.Tensor, side: int) -> torch.Tensor:
    """The centre ``side×side`` crop of an ``H×W`` image (a side already within ``side`` is kept whole)."""
    h, w = y.shape[-2:]
    top, left = max(0, (h - side) // 2), max(0, (w - side) // 2)
    return y[..., top:top + side, left:left + side]


def _odd(n: float) -> int:
    n = max(3, int(round(n)))
    return n if n % 2 else n + 1


def estimate_kernel_l0(y: torch.Tensor, support: int = DEFAULT_SUPPORT, *, rounds: int = ROUNDS,
                       lam: float | None = None, ridge: float = 0.01, faint: float = 0.1,
                       init: torch.Tensor | None = None, subpixel: bool = True,
                       restart_lambda: bool = False, polish: int | None = None,
                       exact_fit: bool = False) -> torch.Tensor:
    """The ``support×support`` blur kernel (float32, ≥ 0, sum 1, centred on its centre of mass) of the
    gray blurred image ``y`` (``H×W`` in [0, 1], at least :data:`MIN_SIDE` a side; the support shrinks to
    about a quarter of the smaller side). ``init``: a kernel to refine at full resolution only, for
    ``rounds`` rounds (else the coarse-to-fine search from a 3-pixel kernel). ``lam``: the L0 weight to
    start from (default :data:`SEARCH_LAMBDA` for a search, :data:`LAMBDA` with ``init``). ``subpixel``:
    centre of mass moved onto the centre pixel to a fraction of a pixel (else to the nearest pixel).
    ``restart_lambda``: every scale starts again from ``lam`` (the search before 2026-12-02; ``deblur``'s
    wide-blur check was calibrated with it, ``lam`` :data:`LAMBDA`). ``polish``: rounds at full scale after a
    search from scratch, the weight restarted at :data:`POLISH_LAMBDA` (default :data:`POLISH_ROUNDS` for the
    falling weight, 0 for a restarting search or a refinement of ``init``). ``exact_fit``: the kernel steps at the
    full scale (the pyramid's last, a refinement, the polish) solve the exact normal equations
    (:func:`.kernel_refine.fit_kernel_nonnegative` ``exact=True``; a whole search takes about 1.5× the time at 256²)
    instead of their Toeplitz approximation; coarser scales keep the approximation. Not this function's default (the
    choice scripts of sessions 12–27 reproduce), but ``deblur``'s since session 28 (RESEARCH_LOG.md, "Session 28")."""
    if support % 2 == 0 or support < 3:
        raise ValueError(f"support must be an odd int ≥ 3, got {support}")
    y = y.detach().double().cpu()
    h, w = y.shape
    if min(h, w) < MIN_SIDE:
        raise ValueError(f"a {h}×{w} image is too small to search its blur kernel (at least {MIN_SIDE} pixels a side)")
    y = centre_crop(y, MAX_SEARCH_SIDE)
    h, w = y.shape
    support = min(support, _odd(min(h, w) / 4 - 1))
    scales = max(1, math.ceil(math.log(3 / support) / math.log(SCALE)) + 1) if init is None else 1
    k = None
    if lam is None:  # the falling weight starts high; a refinement or a restarting search starts at LAMBDA
        lam = SEARCH_LAMBDA if init is None and not restart_lambda else LAMBDA
    lam_s = lam
    for s in reversed(range(scales)):
        factor = SCALE ** s
        side = _odd(support * factor) if s else support
        ys = y if s == 0 else F.interpolate(y[None, None], scale_factor=factor, mode="bilinear",
                                            antialias=True, align_corners=False, recompute_scale_factor=True)[0, 0]
        if k is None:
            k = delta_kernel(side, torch.float64) if init is None else _padded_to(init.double(), side)
        else:
            k = _resize_kernel(k, side)
        pad = side
        yp = F.pad(ys[None, None], (pad, pad, pad, pad), mode="reflect")[0, 0] \
            if min(ys.shape) > pad else F.pad(ys[None, None], (pad, pad, pad, pad), mode="replicate")[0, 0]
        if restart_lambda:
            lam_s = lam
        for _ in range(rounds):
            x = l0_latent(yp, k, lam_s)
            k = fit_kernel_nonnegative(x[pad:-pad, pad:-pad], ys, side, ridge=ridge, faint=faint,
                                       exact=exact_fit and s == 0).double()
            k = centre_kernel(k)
            lam_s = max(lam_s / 1.1, LAMBDA_MIN)
    if subpixel:
        k = centre_subpixel(k)
    if polish is None:
        polish = POLISH_ROUNDS if init is None and not restart_lambda else 0
    if polish:
        return estimate_kernel_l0(y, support, rounds=polish, lam=POLISH_LAMBDA, ridge=ridge, faint=faint,
                                  init=k.float(), subpixel=subpixel, exact_fit=exact_fit)
    return k.float()
