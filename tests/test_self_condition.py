"""Self-conditioning (``self_condition=k`` of the GAN trainer): the clustering finds groups that are
there, the generator draws clusters in proportion to their sizes (checked against scipy's normal
CDF), and a self-conditioned run trains, resumes bitwise, exports and loads as an unconditional
generator. Self-conditioning within classes (a class-conditional model's ``self_condition=m``):
each class is split into its own clusters, the sub-cluster follows each class's cluster sizes, and
the run loads as a class-conditional generator over the original classes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from scipy.stats import norm

from pixelsmith.errors import TrainingError
from pixelsmith.training import load_checkpoint
from pixelsmith.training.gan import GENERATOR_FILE
from pixelsmith.training.self_condition import (SelfConditionedGenerator, SubclassConditionedGenerator,
                                                cluster_images, cluster_within_classes)

from test_gan_trainer import ConditionalTinyGAN, TinyG, TinyGAN, _config


def _three_groups(seed: int = 0) -> tuple[torch.Tensor, np.ndarray]:
    """60 noisy 8×8 images from three well-separated patterns (30, 20 and 10 of them), shuffled."""
    rng = np.random.default_rng(seed)
    patterns = np.zeros((3, 8, 8))
    patterns[0, :4], patterns[1, :, :4], patterns[2, 2:6, 2:6] = 1.0, 1.0, 1.0
    truth = np.repeat([0, 1, 2], [30, 20, 10])
    rng.shuffle(truth)
    images = patterns[truth] + 0.05 * rng.standard_normal((60, 8, 8))
    return torch.from_numpy(images).float().unsqueeze(1), truth


def test_clustering_recovers_groups_that_are_there_numbered_by_size():
    images, truth = _three_groups()
    labels, sizes = cluster_images(images, 3, seed=0)
    assert sizes.tolist() == [30, 20, 10]                       # cluster 0 is the largest
    # the partition is the true one: each true group maps to exactly one cluster, and vice versa
    pairs = set(zip(truth.tolist(), labels.tolist()))
    assert pairs == {(0, 0), (1, 1), (2, 2)}
    again, _ = cluster_images(images, 3, seed=0)
    assert torch.equal(labels, again)                            # seeded: the same clusters every time


@pytest.mark.parametrize("k", [1, 61])
def test_clustering_refuses_a_number_of_clusters_it_cannot_make(k):
    images, _ = _three_groups()
    with pytest.raises(ValueError, match="2 <= k"):
        cluster_images(images, k)


def test_the_cluster_of_a_latent_follows_the_cluster_sizes():
    g = SelfConditionedGenerator(TinyG(latent_dim=4, num_classes=3), torch.tensor([6.0, 3.0, 1.0]))
    z = torch.randn(200_000, 4, generator=torch.Generator().manual_seed(0))
    clusters = g.cluster_of(z)
    # independent: scipy's normal CDF of the first coordinate, placed among the cumulative shares
    expected = np.searchsorted(np.array([0.6, 0.9]), norm.cdf(z[:, 0].double().numpy()), side="left")
    agree = (clusters.numpy() == expected).mean()
    assert agree > 0.9999                                        # float32 erf vs float64 CDF at the bounds
    share = torch.bincount(clusters, minlength=3).double() / len(z)
    assert torch.allclose(share, torch.tensor([0.6, 0.3, 0.1], dtype=torch.float64), atol=0.005)


def test_a_self_conditioned_generator_takes_no_labels_and_needs_a_conditional_network():
    g = SelfConditionedGenerator(TinyG(latent_dim=4, num_classes=3))
    assert g(torch.randn(5, 4)).shape == (5, 1, 28, 28)
    assert g.num_classes == 0 and g.clusters == 3
    with pytest.raises(ValueError, match="unconditional"):
        g(torch.randn(5, 4), torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match="num_classes >= 2"):
        SelfConditionedGenerator(TinyG(latent_dim=4))
    with pytest.raises(ValueError, match="3 numbers"):
        g.set_cluster_sizes(torch.tensor([1.0, 2.0]))


def _straight_and_resumed_agree(component, extra: dict, tmp_path, data):
    """Train 6 steps straight and 3 + 3 with a resume: the checkpoints must be bitwise equal.
    Returns the straight run's checkpoint path and its loaded checkpoint."""
    train = component.train_function()
    straight = train(_config(tmp_path / "a", data, 6, extra=dict(extra)))
    train(_config(tmp_path / "b", data, 3, extra=dict(extra)))
    resumed = train(_config(tmp_path / "b", data, 6, resume=True, extra=dict(extra)))
    a, b = load_checkpoint(straight), load_checkpoint(resumed)
    assert a.tensors.keys() == b.tensors.keys()
    assert all(torch.equal(a.tensors[k], b.tensors[k]) for k in a.tensors)
    return straight, a


def test_a_self_conditioned_run_resumes_bitwise_and_loads_as_unconditional(tmp_path, pixelsmith_tiny_digits):
    straight, a = _straight_and_resumed_agree(TinyGAN, {"self_condition": "4", "width": "8"}, tmp_path,
                                              pixelsmith_tiny_digits)
    meta = a.metadata
    sizes = json.loads(meta["cluster_sizes"])
    n_images = 64  # pixelsmith_tiny_digits
    assert len(sizes) == 4 and sum(sizes) == n_images and sizes == sorted(sizes, reverse=True)
    assert json.loads(meta["model_config"])["self_condition"] == 4
    # D judged clusters: its label embedding has one row per cluster
    assert a.tensors["D.embed.weight"].shape[0] == 4

    gen = TinyGAN(weights=tmp_path / "a" / GENERATOR_FILE)
    assert isinstance(gen.net, SelfConditionedGenerator) and gen.num_classes == 0
    assert torch.equal(gen.sample(6, seed=3), gen.sample(6, seed=3))
    # the generator's cluster shares are the data's
    bounds = torch.cumsum(torch.tensor(sizes, dtype=torch.float64) / n_images, 0)[:-1].float()
    assert torch.allclose(gen.net.cluster_bounds, bounds)
    from_checkpoint = TinyGAN(weights=straight)                  # a checkpoint's EMA generator loads too
    assert isinstance(from_checkpoint.net, SelfConditionedGenerator)

    exported = tmp_path / "exported.safetensors"
    TinyGAN.export_checkpoint(straight, exported)
    assert torch.equal(TinyGAN(weights=exported).sample(4, seed=0), gen.sample(4, seed=0))


def test_self_conditioning_is_refused_where_it_does_not_apply(tmp_path, pixelsmith_tiny_digits):
    with pytest.raises(TrainingError, match="fewer than the 7 clusters"):  # 6 or 7 tiny digits per class
        ConditionalTinyGAN.train_function()(_config(tmp_path / "c", pixelsmith_tiny_digits, 2,
                                                    extra={"self_condition": "7"}))
    with pytest.raises(TrainingError, match="at least 2 clusters"):
        TinyGAN.train_function()(_config(tmp_path / "one", pixelsmith_tiny_digits, 2, extra={"self_condition": "1"}))
    with pytest.raises(TrainingError, match="more clusters than there are images"):
        TinyGAN.train_function()(_config(tmp_path / "many", pixelsmith_tiny_digits, 2,
                                         extra={"self_condition": "65"}))


def test_resuming_with_other_clusters_is_refused(tmp_path, pixelsmith_tiny_digits):
    train = TinyGAN.train_function()
    train(_config(tmp_path / "r", pixelsmith_tiny_digits, 3, extra={"self_condition": "4"}))
    other_seed = _config(tmp_path / "r", pixelsmith_tiny_digits, 6, resume=True, extra={"self_condition": "4"})
    other_seed = type(other_seed)(**{**other_seed.__dict__, "seed": 8})
    with pytest.raises(TrainingError, match="clusters differ"):
        train(other_seed)


def test_a_self_conditioned_generator_builds_on_the_meta_device():
    # weights files are checked by building their model on "meta" first (pixelsmith.weights.build_checked)
    with torch.device("meta"):
        g = SelfConditionedGenerator(TinyG(latent_dim=4, num_classes=4))
    assert g.cluster_bounds.is_meta and g.cluster_bounds.shape == (3,)
    assert torch.allclose(SelfConditionedGenerator(TinyG(latent_dim=4, num_classes=4)).cluster_bounds,
                          torch.tensor([0.25, 0.5, 0.75]))


def test_clustering_within_classes_splits_each_class_on_its_own():
    a, truth_a = _three_groups(0)
    b, truth_b = _three_groups(1)
    images = torch.cat([a, 1.0 - b])                  # class 0: three patterns; class 1: their negatives
    classes = torch.tensor([0] * 60 + [1] * 60)
    order = torch.randperm(120, generator=torch.Generator().manual_seed(0))
    fine, sizes = cluster_within_classes(images[order], classes[order], 2, 3, seed=0)
    assert sizes.tolist() == [[30, 20, 10], [30, 20, 10]]
    assert torch.equal(fine // 3, classes[order])     # a fine label stays inside its class
    truth = torch.from_numpy(np.concatenate([truth_a, 3 + truth_b]))[order]
    assert set(zip(truth.tolist(), fine.tolist())) == {(i, i) for i in range(6)}
    with pytest.raises(ValueError, match="fewer than the 61 clusters"):
        cluster_within_classes(images, classes, 2, 61)


def test_the_sub_cluster_of_a_latent_follows_its_own_class_sizes():
    sizes = torch.tensor([[6.0, 3.0, 1.0], [1.0, 1.0, 2.0]])
    g = SubclassConditionedGenerator(TinyG(latent_dim=4, num_classes=6), 2, sizes)
    assert g.num_classes == 2 and g.clusters == 3
    z = torch.randn(200_000, 4, generator=torch.Generator().manual_seed(0))
    labels = torch.arange(200_000) % 2
    fine = g.fine_labels(z, labels)
    assert torch.equal(fine // 3, labels)
    u = norm.cdf(z[:, 0].double().numpy())
    for c, bounds in ((0, [0.6, 0.9]), (1, [0.25, 0.5])):
        pick = (labels == c).numpy()
        expected = 3 * c + np.searchsorted(np.array(bounds), u[pick], side="left")
        assert (fine.numpy()[pick] == expected).mean() > 0.9999
        share = torch.bincount(fine[labels == c] - 3 * c, minlength=3).double() / pick.sum()
        assert torch.allclose(share, (sizes[c] / sizes[c].sum()).double(), atol=0.006)
    assert g(z[:5], labels[:5]).shape == (5, 1, 28, 28)
    with pytest.raises(ValueError, match="one label per image"):
        g(z[:5])
    with pytest.raises(ValueError, match="multiple of 2"):
        SubclassConditionedGenerator(TinyG(latent_dim=4, num_classes=5), 2)
    with pytest.raises(ValueError, match="2×3"):
        g.set_cluster_sizes(torch.ones(3, 2))
    with torch.device("meta"):                          # weights files are checked on "meta" first
        assert SubclassConditionedGenerator(TinyG(latent_dim=4, num_classes=6), 2).subcluster_bounds.is_meta


def test_a_run_self_conditioned_within_classes_resumes_bitwise_and_loads_as_class_conditional(
        tmp_path, pixelsmith_tiny_digits):
    straight, a = _straight_and_resumed_agree(ConditionalTinyGAN, {"self_condition": "2", "width": "8"}, tmp_path,
                                              pixelsmith_tiny_digits)
    sizes = json.loads(a.metadata["cluster_sizes"])
    assert len(sizes) == 10 and all(len(row) == 2 for row in sizes) and sum(map(sum, sizes)) == 64
    assert a.tensors["D.embed.weight"].shape[0] == 20      # D judged the 20 fine labels

    gen = ConditionalTinyGAN(weights=tmp_path / "a" / GENERATOR_FILE)
    assert isinstance(gen.net, SubclassConditionedGenerator) and gen.num_classes == 10
    labels = torch.arange(6) % 10
    assert torch.equal(gen.sample(6, seed=3, labels=labels), gen.sample(6, seed=3, labels=labels))
    shares = torch.tensor(sizes, dtype=torch.float64)
    assert torch.allclose(gen.net.subcluster_bounds, (shares[:, :1] / shares.sum(1, keepdim=True)).float())
    exported = tmp_path / "exported.safetensors"
    ConditionalTinyGAN.export_checkpoint(straight, exported)
    assert torch.equal(ConditionalTinyGAN(weights=exported).sample(4, seed=0, labels=labels[:4]),
                       gen.sample(4, seed=0, labels=labels[:4]))
