"""The generative metrics as plain functions of feature matrices (``N×D``, any N per set).

Everything is computed in float64 on the CPU; features are small (128-d) and sets are thousands,
so exactness matters more than speed. The metric classes in :mod:`pixelsmith_genmetrics.metrics`
extract features with the shipped classifier and call these.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from pixelsmith.plugin import InvalidInputError, make_generator

__all__ = [
    "frechet_distance",
    "frechet_distance_from_stats",
    "feature_stats",
    "kernel_distance",
    "mmd2_unbiased",
    "polynomial_kernel",
    "knn_radii",
    "precision_recall",
    "manifold_coverage",
    "nearest_distances",
    "memorisation_score",
    "class_coverage",
]


def _as_features(x: Any, name: str, min_rows: int = 1) -> torch.Tensor:
    t = torch.as_tensor(x)
    if t.ndim != 2:
        raise InvalidInputError(f"{name}: expected an N×D feature matrix, got shape {tuple(t.shape)}")
    if t.shape[0] < min_rows:
        raise InvalidInputError(f"{name}: needs at least {min_rows} samples, got {t.shape[0]}")
    t = t.detach().to("cpu", torch.float64)
    if not bool(torch.isfinite(t).all()):
        raise InvalidInputError(f"{name}: features contain NaN or Inf")
    return t


def _same_dim(a: torch.Tensor, b: torch.Tensor) -> None:
    if a.shape[1] != b.shape[1]:
        raise InvalidInputError(f"feature sets differ in dimension: {a.shape[1]} vs {b.shape[1]}")


# -- Fréchet distance ------------------------------------------------------------------------------

def feature_stats(features: Any) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sample covariance (``N - 1`` denominator, as FID) of ``N×D`` features."""
    f = _as_features(features, "features", min_rows=2).numpy()
    return f.mean(0), np.cov(f, rowvar=False)


def _sqrtm_psd(a: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((a + a.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance_from_stats(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """``|mu1 - mu2|² + tr(S1 + S2 - 2 (S1 S2)^½)``.

    The trace of ``(S1 S2)^½`` is computed as the sum of square roots of the eigenvalues of the
    symmetric PSD matrix ``S1^½ S2 S1^½`` (same eigenvalues as ``S1 S2``), which stays real and
    stable for singular covariances where ``scipy.linalg.sqrtm(S1 @ S2)`` may go complex.
    """
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.size, mu1.size):
        raise InvalidInputError(
            f"statistics do not match: mu {mu1.shape} vs {mu2.shape}, sigma {sigma1.shape} vs {sigma2.shape}"
        )
    s1h = _sqrtm_psd(sigma1)
    m = s1h @ sigma2 @ s1h
    tr_covmean = float(np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0, None)).sum())
    diff = mu1 - mu2
    fd = float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_covmean)
    return max(fd, 0.0)


def frechet_distance(gen_features: Any, real_features: Any) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (sizes may differ; ≥ 2 each)."""
    g = _as_features(gen_features, "generated features", 2)
    r = _as_features(real_features, "real features", 2)
    _same_dim(g, r)
    return frechet_distance_from_stats(*feature_stats(g), *feature_stats(r))


# -- kernel distance (KID) -------------------------------------------------------------------------

def polynomial_kernel(x: torch.Tensor, y: torch.Tensor, *, degree: int = 3, gamma: float | None = None,
                      coef0: float = 1.0) -> torch.Tensor:
    """``(gamma x·y + coef0)^degree``, ``gamma = 1/D`` by default (the KID kernel)."""
    gamma = 1.0 / x.shape[1] if gamma is None else gamma
    return (gamma * (x @ y.T) + coef0) ** degree


def mmd2_unbiased(x: torch.Tensor, y: torch.Tensor, **kernel: Any) -> float:
    """Unbiased MMD² (Gretton et al. 2012, eq. 3): diagonal terms dropped in the within-set means."""
    m, n = x.shape[0], y.shape[0]
    if m < 2 or n < 2:
        raise InvalidInputError(f"unbiased MMD² needs at least 2 samples per set, got {m} and {n}")
    kxx, kyy, kxy = polynomial_kernel(x, x, **kernel), polynomial_kernel(y, y, **kernel), polynomial_kernel(x, y, **kernel)
    sxx = (kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1))
    syy = (kyy.sum() - kyy.diagonal().sum()) / (n * (n - 1))
    return float(sxx + syy - 2 * kxy.mean())


def kernel_distance(gen_features: Any, real_features: Any, *, subsets: int = 100, subset_size: int = 1000,
                    seed: int | torch.Generator | None = 0, degree: int = 3, coef0: float = 1.0
                    ) -> tuple[float, float]:
    """KID (Bińkowski et al. 2018): mean and std of unbiased MMD² over random subsets.

    Each subset draws ``min(subset_size, N)`` samples without replacement from each set. When that
    is the whole of both sets the estimate is computed once (it does not depend on the draw).
    """
    g = _as_features(gen_features, "generated features", 2)
    r = _as_features(real_features, "real features", 2)
    _same_dim(g, r)
    if subsets < 1 or subset_size < 2:
        raise InvalidInputError(f"subsets must be ≥ 1 and subset_size ≥ 2, got {subsets} and {subset_size}")
    m, n = min(subset_size, len(g)), min(subset_size, len(r))
    if m == len(g) and n == len(r):
        return mmd2_unbiased(g, r, degree=degree, coef0=coef0), 0.0
    rng = make_generator(seed)
    kw = dict(degree=degree, coef0=coef0)
    draws = [(torch.randperm(len(g), generator=rng)[:m], torch.randperm(len(r), generator=rng)[:n])
             for _ in range(subsets)]
    if (len(g) + len(r)) ** 2 <= 64_000_000:
        # Kernel matrices of the whole sets once; a subset's kernel sum is then sᵀKs with s its
        # 0/1 indicator vector, so all subsets cost a few matrix products (same estimates).
        sg = torch.zeros(subsets, len(g), dtype=torch.float64)
        sr = torch.zeros(subsets, len(r), dtype=torch.float64)
        for i, (gi, ri) in enumerate(draws):
            sg[i, gi] = 1.0
            sr[i, ri] = 1.0
        kxx = polynomial_kernel(g, g, **kw)
        sum_xx = ((sg @ kxx) * sg).sum(1) - sg @ kxx.diagonal()
        del kxx
        kyy = polynomial_kernel(r, r, **kw)
        sum_yy = ((sr @ kyy) * sr).sum(1) - sr @ kyy.diagonal()
        del kyy
        sum_xy = ((sg @ polynomial_kernel(g, r, **kw)) * sr).sum(1)
        vals = (sum_xx / (m * (m - 1)) + sum_yy / (n * (n - 1)) - 2 * sum_xy / (m * n)).tolist()
    else:
        vals = [mmd2_unbiased(g[gi], r[ri], **kw) for gi, ri in draws]
    arr = np.asarray(vals)
    return float(arr.mean()), float(arr.std())


# -- precision and recall (Kynkäänniemi et al. 2019) ------------------------------------------------

def _pairwise(a: torch.Tensor, b: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """Euclidean distances ``len(a)×len(b)``; float64 keeps the matmul form exact to ~1e-7."""
    return torch.cat([torch.cdist(a[i:i + chunk], b) for i in range(0, len(a), chunk)])


def knn_radii(features: Any, k: int = 3) -> torch.Tensor:
    """Distance of each sample to its ``k``-th nearest *other* sample of the same set."""
    f = _as_features(features, "features", k + 1)
    radii = []
    for i in range(0, len(f), 1024):
        d = _pairwise(f[i:i + 1024], f)
        # column 0 of the sorted row is the sample itself (distance 0), so index k is the k-th neighbour
        radii.append(d.kthvalue(k + 1, dim=1).values)
    return torch.cat(radii)


def _coverage(query: torch.Tensor, support: torch.Tensor, radii: torch.Tensor) -> float:
    inside = torch.zeros(len(query), dtype=torch.bool)
    for i in range(0, len(query), 1024):
        d = _pairwise(query[i:i + 1024], support)
        inside[i:i + 1024] = (d <= radii.unsqueeze(0)).any(1)
    return float(inside.double().mean())


def manifold_coverage(query_features: Any, support_features: Any, *, k: int = 3) -> float:
    """Fraction of query samples within the ``k``-NN radius of at least one support sample.

    ``manifold_coverage(gen, real)`` is precision, ``manifold_coverage(real, gen)`` is recall.
    """
    q = _as_features(query_features, "query features")
    s = _as_features(support_features, "support features", k + 1)
    _same_dim(q, s)
    return _coverage(q, s, knn_radii(s, k))


def precision_recall(gen_features: Any, real_features: Any, *, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) with ``k``-NN hypersphere manifolds.

    Precision: fraction of generated samples inside the real manifold (within the k-NN radius of
    some real sample). Recall: fraction of real samples inside the generated manifold.
    """
    g = _as_features(gen_features, "generated features", k + 1)
    r = _as_features(real_features, "real features", k + 1)
    _same_dim(g, r)
    precision = _coverage(g, r, knn_radii(r, k))
    recall = _coverage(r, g, knn_radii(g, k))
    return precision, recall


# -- memorisation ----------------------------------------------------------------------------------

def nearest_distances(query: Any, support: Any, *, exclude_self: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """For each query row: Euclidean distance to its nearest support row, and that row's index.

    ``exclude_self``: query and support are the same set; each row's own entry is skipped
    (leave-one-out nearest neighbour).
    """
    q = _as_features(query, "query")
    s = _as_features(support, "support", 2 if exclude_self else 1)
    _same_dim(q, s)
    dists, idx = [], []
    for i in range(0, len(q), 1024):
        d = _pairwise(q[i:i + 1024], s)
        if exclude_self:
            rows = torch.arange(d.shape[0])
            d[rows, rows + i] = math.inf
        v, j = d.min(1)
        dists.append(v)
        idx.append(j)
    return torch.cat(dists), torch.cat(idx)


def memorisation_score(gen_to_train: torch.Tensor, reference_to_train: torch.Tensor, *,
                       percentile: float = 1.0) -> tuple[float, float]:
    """Fraction of generated samples closer to the training set than the ``percentile``-th
    percentile of real reference samples' distances to it; returns ``(score, threshold)``.

    Real data not trained on scores about ``percentile / 100`` by construction; copies of training
    images score 1.
    """
    if not 0 < percentile < 100:
        raise InvalidInputError(f"percentile must lie in (0, 100), got {percentile}")
    threshold = float(np.percentile(reference_to_train.double().numpy(), percentile))
    return float((gen_to_train.double() < threshold).double().mean()), threshold


# -- class coverage --------------------------------------------------------------------------------

def class_coverage(probabilities: Any, *, threshold: float = 0.07, mode: str = "threshold") -> float:
    """Coverage of the classes by predicted (arg-max) labels of ``N×K`` probabilities.

    ``mode="threshold"``: fraction of the K classes whose share of samples is ≥ ``threshold``.
    ``mode="entropy"``: ``exp(H(p)) / K`` of the class histogram ``p`` (perplexity over K; 1 when
    uniform, 1/K when every sample falls in one class).
    """
    p = _as_features(probabilities, "probabilities")
    k = p.shape[1]
    share = torch.bincount(p.argmax(1), minlength=k).double() / len(p)
    if mode == "threshold":
        return float((share >= threshold).double().mean())
    if mode == "entropy":
        nz = share[share > 0]
        return float(torch.exp(-(nz * nz.log()).sum()) / k)
    raise InvalidInputError(f"mode must be 'threshold' or 'entropy', got {mode!r}")
