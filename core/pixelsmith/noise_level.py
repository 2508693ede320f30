"""Estimating the level of additive white Gaussian noise from a single image.

Patch PCA after Chen, Zhu and Heng, *An Efficient Statistical Method for Image Noise Level
Estimation* (ICCV 2015): the covariance of all d×d patches has eigenvalues that are signal plus
noise in a few directions and noise alone (σ²) in the rest. Sorted, the smallest eigenvalues form a
set whose mean equals its median; the largest such set's mean is the noise variance. Texture lives
in the large eigenvalues, so unlike a residual-based estimate it is not mistaken for noise.

Blind restorers use it to turn "σ unknown" into "σ estimated", so one network trained with a
known level serves both cases.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .errors import InvalidInputError

__all__ = ["estimate_noise_sigma"]

#: Above this many patch positions the sampled ones are drawn with replacement instead of taken from
#: a permutation of all of them (which would cost 8 bytes per position); below it, estimates are
#: exactly what they always were.
_PERMUTE_LIMIT = 1 << 24


def _patch_covariance_eigenvalues(img: torch.Tensor, patch: int, max_patches: int,
                                  generator: torch.Generator) -> torch.Tensor:
    """Ascending eigenvalues of the covariance of ``patch``×``patch`` patches of one H×W image.

    Above ``max_patches`` patches, the sampled ones are gathered straight from the image (the same
    columns, in the same order, as unfolding every patch and picking them), so memory follows
    ``max_patches``, not the image: unfolding a 36 Mpx image would take 14 GB.
    """
    h, w = img.shape
    nh, nw = h - patch + 1, w - patch + 1
    n = nh * nw
    if n > max_patches:
        if n > _PERMUTE_LIMIT:
            # a huge image (over 16.7 M patch positions, ~4096²): positions drawn with replacement, so
            # memory follows max_patches, not the image (a permutation of every position takes 8 bytes
            # each: 290 MB at 36 Mpx); repeats among 60,000 of millions are negligible
            pick = torch.randint(0, n, (max_patches,), generator=generator)
        else:
            pick = torch.randperm(n, generator=generator)[:max_patches]
        # flat positions: each sampled patch's top-left corner plus the offset of each pixel within a patch, row
        # ky·patch + kx as F.unfold orders them; taken from the image made float64 once (converting the
        # patch² × max_patches matrix instead cost more than the covariance itself)
        top_left = pick.div(nw, rounding_mode="floor") * w + pick.remainder(nw)
        offsets = torch.arange(patch)
        within = (offsets[:, None] * w + offsets[None, :]).reshape(-1)
        cols = torch.take(img.double(), within[:, None] + top_left[None, :])  # patch² × max_patches
    else:
        cols = F.unfold(img[None, None].double(), patch)[0]  # patch² × n
    # the covariance as Σ ccᵀ − s sᵀ/n rather than of centred columns: the same matrix to ~1e-14 (values in [0, 1],
    # float64), without the broadcast subtraction over every patch, which took half the estimate's time on one thread
    n_cols = cols.shape[1]
    s = cols.sum(dim=1)
    cov = (cols @ cols.T - torch.outer(s, s) / n_cols) / max(1, n_cols - 1)
    return torch.linalg.eigvalsh(cov).clamp_min(0)


def _noise_variance(eig: torch.Tensor) -> float:
    # Chen et al.'s rule: drop the largest eigenvalue while the tail's mean exceeds its median.
    r = eig.numel()
    for keep in range(r, 0, -1):
        tail = eig[:keep]
        if float(tail.mean()) <= float(tail.median()):
            return float(tail.mean())
    return float(eig[0])


def estimate_noise_sigma(x: torch.Tensor, *, patch: int = 7, max_patches: int = 60000) -> torch.Tensor:
    """The Gaussian noise σ of each image of a ``B×C×H×W`` batch (in the image's units), ``Tensor[B]``.

    Colour images: the mean of the per-channel estimates (the noise is assumed equal in every
    channel). Images smaller than ``patch`` in a dimension give 0. Deterministic: patches are
    subsampled (above ``max_patches``) with a fixed seed.

    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> flat = torch.full((1, 1, 64, 64), 0.5) + 0.1 * torch.randn(1, 1, 64, 64, generator=g)
    >>> round(float(estimate_noise_sigma(flat)[0]), 2)
    0.1
    """
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        raise InvalidInputError(f"x must be a B×C×H×W tensor, got {getattr(x, 'shape', type(x).__name__)}")
    if patch < 2:
        raise InvalidInputError(f"patch must be at least 2, got {patch}")
    b, c, h, w = x.shape
    out = torch.zeros(b, dtype=torch.float32)
    if h < patch or w < patch:
        return out
    g = torch.Generator().manual_seed(0)
    for i in range(b):  # one channel at a time, in float64 once its patches are taken: no float64 image
        variances = [_noise_variance(_patch_covariance_eigenvalues(x[i, ch].detach().cpu(), patch, max_patches, g))
                     for ch in range(c)]
        out[i] = float(torch.tensor(variances).mean().sqrt())
    return out
