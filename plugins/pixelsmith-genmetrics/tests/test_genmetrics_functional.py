"""The feature-space functions against direct numpy/scipy implementations."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from pixelsmith.plugin import InvalidInputError
from pixelsmith_genmetrics import functional as GF


def _rand(n, d, seed, shift=0.0, scale=1.0):
    rng = np.random.default_rng(seed)
    # correlated features, like a network's, so the covariances are far from diagonal
    mix = rng.normal(size=(d, d)) / np.sqrt(d)
    return (rng.normal(size=(n, d)) @ mix) * scale + shift


def _fd_scipy(a, b):
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    covmean = np.real(covmean)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def test_fd_of_a_set_with_itself_is_zero():
    a = _rand(400, 16, 0)
    assert GF.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("shift,scale", [(0.0, 1.0), (0.3, 1.0), (0.0, 1.7), (1.0, 0.5)])
def test_fd_matches_scipy_sqrtm(shift, scale):
    a, b = _rand(500, 24, 1), _rand(350, 24, 2, shift=shift, scale=scale)  # different sizes
    assert GF.frechet_distance(a, b) == pytest.approx(_fd_scipy(a, b), rel=1e-7, abs=1e-9)


def test_fd_from_stats_is_symmetric_and_handles_singular_covariances():
    a, b = _rand(10, 32, 3), _rand(12, 32, 4, shift=0.2)  # N < D: rank-deficient covariances
    fd_ab, fd_ba = GF.frechet_distance(a, b), GF.frechet_distance(b, a)
    assert np.isfinite(fd_ab) and fd_ab == pytest.approx(fd_ba, rel=1e-8)
    assert fd_ab == pytest.approx(_fd_scipy(a, b), rel=1e-5)


def _mmd2_numpy(x, y):
    d = x.shape[1]
    kxx, kyy, kxy = (x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3
    m, n = len(x), len(y)
    return ((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
            - 2 * kxy.mean())


def test_kd_on_whole_sets_matches_numpy():
    x, y = _rand(120, 10, 5), _rand(90, 10, 6, shift=0.4)
    value, std = GF.kernel_distance(x, y, subset_size=1000)
    assert value == pytest.approx(_mmd2_numpy(x, y), rel=1e-10)
    assert std == 0.0


def test_kd_subsets_match_numpy_on_the_same_draws():
    x, y = _rand(300, 8, 7), _rand(250, 8, 8, shift=0.2)
    value, std = GF.kernel_distance(x, y, subsets=7, subset_size=100, seed=3)
    rng = torch.Generator().manual_seed(3)
    vals = []
    for _ in range(7):
        gi = torch.randperm(300, generator=rng)[:100].numpy()
        ri = torch.randperm(250, generator=rng)[:100].numpy()
        vals.append(_mmd2_numpy(x[gi], y[ri]))
    assert value == pytest.approx(np.mean(vals), rel=1e-9)
    assert std == pytest.approx(np.std(vals), rel=1e-6)
    assert GF.kernel_distance(x, y, subsets=7, subset_size=100, seed=3) == (value, std)  # seeded


def test_kd_is_unbiased_for_the_same_distribution():
    rng = np.random.default_rng(0)
    same = [GF.kernel_distance(rng.normal(size=(40, 6)), rng.normal(size=(30, 6)))[0] for _ in range(300)]
    mean, sem = np.mean(same), np.std(same) / np.sqrt(len(same))
    assert abs(mean) < 3 * sem  # zero in expectation (the biased V-statistic would be clearly > 0)
    shifted = GF.kernel_distance(rng.normal(size=(40, 6)), rng.normal(size=(30, 6)) + 1.0)[0]
    assert shifted > 10 * np.std(same)


def _pr_bruteforce(gen, real, k):
    def radii(s):
        out = []
        for i in range(len(s)):
            d = sorted(np.sqrt(((s - s[i]) ** 2).sum(1)))
            out.append(d[k])  # d[0] is the point itself
        return np.array(out)

    def cover(query, support, r):
        hits = 0
        for q in query:
            hits += any(np.sqrt(((q - s) ** 2).sum()) <= rs for s, rs in zip(support, r))
        return hits / len(query)

    return cover(gen, real, radii(real)), cover(real, gen, radii(gen))


@pytest.mark.parametrize("k", [1, 3, 5])
def test_precision_recall_match_bruteforce(k):
    real = _rand(80, 5, 9)
    gen = _rand(60, 5, 10, shift=0.8, scale=0.6)  # partly overlapping, narrower: precision ≠ recall
    p, r = GF.precision_recall(gen, real, k=k)
    bp, br = _pr_bruteforce(gen, real, k)
    assert (p, r) == (pytest.approx(bp), pytest.approx(br))
    assert 0 < p < 1 and 0 < r < 1


def test_knn_radii_match_bruteforce():
    f = _rand(50, 4, 11)
    d = np.sqrt(((f[:, None] - f[None]) ** 2).sum(-1))
    np.testing.assert_allclose(GF.knn_radii(f, 3).numpy(), np.sort(d, 1)[:, 3], rtol=1e-10)


def test_nearest_distances_leave_one_out():
    f = _rand(30, 3, 12)
    d = np.sqrt(((f[:, None] - f[None]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    dist, idx = GF.nearest_distances(f, f, exclude_self=True)
    np.testing.assert_allclose(dist.numpy(), d.min(1), rtol=1e-10)
    np.testing.assert_array_equal(idx.numpy(), d.argmin(1))


def test_class_coverage_threshold_and_entropy():
    probs = torch.zeros(100, 10, dtype=torch.float64)
    labels = torch.tensor([0] * 50 + [1] * 45 + [2] * 5)
    probs[torch.arange(100), labels] = 1.0
    assert GF.class_coverage(probs, threshold=0.07) == pytest.approx(0.2)  # classes 0 and 1 only
    share = np.array([0.5, 0.45, 0.05])
    assert GF.class_coverage(probs, mode="entropy") == pytest.approx(np.exp(-(share * np.log(share)).sum()) / 10)
    uniform = torch.eye(10, dtype=torch.float64).repeat(10, 1)
    assert GF.class_coverage(uniform) == 1.0 and GF.class_coverage(uniform, mode="entropy") == pytest.approx(1.0)


def test_bad_feature_inputs_raise():
    with pytest.raises(InvalidInputError, match="N×D"):
        GF.frechet_distance(np.zeros(5), np.zeros((5, 2)))
    with pytest.raises(InvalidInputError, match="dimension"):
        GF.frechet_distance(np.zeros((5, 2)), np.zeros((5, 3)))
    with pytest.raises(InvalidInputError, match="at least 4"):
        GF.precision_recall(np.zeros((3, 2)), np.zeros((9, 2)), k=3)
    with pytest.raises(InvalidInputError, match="percentile"):
        GF.memorisation_score(torch.zeros(3), torch.ones(3), percentile=0)
