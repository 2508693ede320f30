"""The class-wise memorisation of ``benchmarks/gan_quality.py``: thresholds agree with scipy's pairwise
distances, copies of training digits score 1 in their class, images far from every digit score 0."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from scipy.spatial.distance import cdist

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from gan_quality import classwise_memorisation, classwise_thresholds  # noqa: E402


def _digits(n_per_class: int = 30, classes: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(classes).repeat_interleave(n_per_class)
    centres = torch.rand(classes, 1, 8, 8, generator=g)
    images = (centres[labels] + 0.1 * torch.randn(len(labels), 1, 8, 8, generator=g)).clamp(0, 1)
    return images, labels


def test_thresholds_are_the_percentile_of_leave_one_out_distances_within_each_class():
    images, labels = _digits()
    thresholds = classwise_thresholds(images, labels, percentile=10.0)
    for c in range(3):
        x = images[labels == c].reshape(30, -1).double().numpy()
        d = cdist(x, x)
        np.fill_diagonal(d, np.inf)
        assert abs(thresholds[c] - np.percentile(d.min(1), 10.0)) < 1e-12


def test_copies_score_one_and_faraway_images_zero_in_their_class():
    images, labels = _digits()
    thresholds = classwise_thresholds(images, labels)
    copies = classwise_memorisation(images[::2], labels[::2], images, labels, thresholds)
    assert copies["memorisation_by_class"] == {0: 1.0, 1: 1.0, 2: 1.0} and copies["memorisation_class_max"] == 1.0
    far = torch.full((6, 1, 8, 8), 5.0)
    none = classwise_memorisation(far, torch.tensor([0, 0, 1, 1, 2, 2]), images, labels, thresholds)
    assert none["memorisation_class_mean"] == 0.0
    # a class absent from the samples is left out, not counted as zero
    only_one = classwise_memorisation(images[:4], labels[:4], images, labels, thresholds)
    assert set(only_one["memorisation_by_class"]) == {0}
