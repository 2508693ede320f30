"""Self-conditioning for unconditional GANs (Liu et al., *Diverse Image Generation via Self-Conditioned
GANs*, CVPR 2020): the training images are clustered without any human label, and the GAN is trained
as a class-conditional one on the cluster ids. Each cluster is a mode the discriminator holds the
generator to, so small modes (a rare digit) are not dropped; the model stays unconditional, because
the cluster of a sample is drawn from the clusters' sizes, not chosen by the user.

Two simplifications against the paper, both to keep training cheap and resumable on a CPU: the
clusters are computed once, before training, by k-means on the principal components of the pixels
(the paper re-clusters the discriminator's features every few epochs); and the cluster of a sample is
a function of its latent (:class:`SelfConditionedGenerator`), so a generator stays a function
``z -> image`` that exports to ONNX like any other.

A class-conditional model can be self-conditioned too, *within* its classes
(:func:`cluster_within_classes`, :class:`SubclassConditionedGenerator`): each class is split into ``m``
clusters, the networks are trained on the ``C·m`` fine labels, and the user still passes one of the
``C`` classes; the sub-cluster is drawn from the latent as above, among that class's clusters.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .gan_weights import check_labels

__all__ = ["cluster_images", "cluster_within_classes", "SelfConditionedGenerator",
           "SubclassConditionedGenerator", "PCA_DIMS"]

#: Principal components the images are reduced to before k-means (enough for digit shapes; k-means in
#: 784 pixel dimensions is slower and no better at separating strokes).
PCA_DIMS = 50


@torch.no_grad()
def cluster_images(images: torch.Tensor, k: int, *, seed: int = 0, dims: int = PCA_DIMS, iters: int = 100,
                   restarts: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """Cluster ``N×C×H×W`` images into ``k`` groups; returns ``(labels N int64, sizes k int64)``.

    k-means++ seeding and Lloyd iterations on the first ``dims`` principal components, in float64 on
    the CPU so the result is the same on every machine for the same ``seed``; the best of ``restarts``
    runs (lowest within-cluster sum of squares) is kept. Clusters are numbered by decreasing size.
    """
    n = images.shape[0]
    if not 2 <= k <= n:
        raise ValueError(f"self-conditioning needs 2 <= k <= the number of images ({n}), got k={k}")
    x = images.detach().reshape(n, -1).to("cpu", torch.float64)
    x = x - x.mean(0)
    _, _, v = torch.linalg.svd(x, full_matrices=False)
    v = v[: min(dims, v.shape[0])]
    v = v * torch.where(v.sum(1, keepdim=True) < 0, -1.0, 1.0)  # a fixed sign per component
    feats = x @ v.T
    g = torch.Generator().manual_seed(int(seed))
    best: tuple[float, torch.Tensor] | None = None
    for _ in range(max(1, restarts)):
        labels, inertia = _kmeans(feats, k, g, iters)
        if best is None or inertia < best[0]:
            best = (inertia, labels)
    labels = best[1]
    sizes = torch.bincount(labels, minlength=k)
    order = torch.argsort(-sizes, stable=True)           # cluster 0 is the largest
    rank = torch.empty_like(order)
    rank[order] = torch.arange(k)
    labels = rank[labels]
    return labels, torch.bincount(labels, minlength=k)


def cluster_within_classes(images: torch.Tensor, labels: torch.Tensor, num_classes: int, m: int, *, seed: int = 0
                           ) -> tuple[torch.Tensor, torch.Tensor]:
    """Split each of ``num_classes`` classes of ``N×C×H×W`` images into ``m`` clusters
    (:func:`cluster_images` per class, its own principal components).

    Returns ``(fine labels N int64, sizes num_classes×m int64)``: image ``i`` of class ``c`` in its
    class's cluster ``j`` (numbered by decreasing size) gets the fine label ``c·m + j``.
    """
    labels = torch.as_tensor(labels).long().cpu()
    if labels.shape != (images.shape[0],):
        raise ValueError(f"one label per image needed, got {tuple(labels.shape)} for {images.shape[0]} images")
    fine = torch.empty_like(labels)
    sizes = torch.zeros(num_classes, m, dtype=torch.int64)
    for c in range(num_classes):
        members = (labels == c).nonzero().flatten()
        if members.numel() < m:
            raise ValueError(f"class {c} has {members.numel()} images, fewer than the {m} clusters asked for "
                             "per class; lower self_condition")
        sub, sizes[c] = cluster_images(images[members], m, seed=seed * 1_000_003 + c)
        fine[members] = c * m + sub
    return fine, sizes


def _share_bounds(sizes: torch.Tensor) -> torch.Tensor:
    """The inner cumulative shares of ``sizes`` along the last dimension (``…×(k−1)``)."""
    sizes = torch.as_tensor(sizes, dtype=torch.float64)
    if bool((sizes < 0).any()) or bool((sizes.sum(-1) <= 0).any()):
        raise ValueError("cluster sizes must be non-negative with a positive sum")
    return torch.cumsum(sizes / sizes.sum(-1, keepdim=True), -1)[..., :-1]


def _uniform_of(z: torch.Tensor) -> torch.Tensor:
    """``Φ(z₀)``: the first latent coordinate of each row, mapped to a uniform draw in (0, 1)."""
    z0 = z.reshape(z.shape[0], -1)[:, 0]
    return 0.5 * (1.0 + torch.erf(z0 / math.sqrt(2.0)))


def _kmeans(x: torch.Tensor, k: int, g: torch.Generator, iters: int) -> tuple[torch.Tensor, float]:
    n = x.shape[0]
    centres = x[torch.randint(0, n, (1,), generator=g)]
    d2 = torch.cdist(x, centres).square().min(1).values
    for _ in range(1, k):  # k-means++: the next centre with probability ∝ squared distance
        nxt = torch.multinomial(d2 / d2.sum(), 1, generator=g)
        centres = torch.cat([centres, x[nxt]])
        d2 = torch.minimum(d2, (x - x[nxt]).square().sum(1))
    labels = torch.cdist(x, centres).argmin(1)
    for _ in range(iters):
        sums = torch.zeros_like(centres).index_add_(0, labels, x)
        counts = torch.bincount(labels, minlength=k)
        empty = counts == 0
        if empty.any():  # an empty cluster restarts at the points worst served by their centre
            far = (x - centres[labels]).square().sum(1).argsort(descending=True)[: int(empty.sum())]
            sums[empty], counts[empty] = x[far], 1
        centres = sums / counts.unsqueeze(1)
        new = torch.cdist(x, centres).argmin(1)
        if torch.equal(new, labels):
            break
        labels = new
    inertia = float((x - centres[labels]).square().sum())
    return labels, inertia


class SelfConditionedGenerator(nn.Module):
    """An unconditional generator ``z -> image`` made of a class-conditional network ``net(z, labels)``
    trained on ``k`` clusters: the cluster of each sample is drawn from the clusters' sizes through
    its first latent coordinate (``Φ(z₀)`` is uniform for ``z ~ N(0, I)``, and the cluster is where it
    falls among the cumulative cluster shares). Deterministic in ``z``, so seeded sampling, batch
    independence and ONNX export hold as for any generator.

    ``cluster_bounds`` (a buffer, saved with the weights) holds the ``k − 1`` inner cumulative shares.
    """

    def __init__(self, net: nn.Module, sizes: torch.Tensor | None = None) -> None:
        super().__init__()
        k = int(getattr(net, "num_classes", 0))
        if k < 2:
            raise ValueError(f"a self-conditioned generator needs a class-conditional network (num_classes >= 2), "
                             f"got num_classes={k}")
        self.net = net
        self.latent_dim = int(net.latent_dim)
        self.clusters = k
        self.num_classes = 0  # unconditional to its users: it takes no labels
        # equal shares until set_cluster_sizes; computed without reading tensor values, so the module
        # can be built on the meta device (weights files are checked that way before any memory is taken)
        self.register_buffer("cluster_bounds", torch.arange(1, k, dtype=torch.float32) / k)
        if sizes is not None:
            self.set_cluster_sizes(sizes)

    @torch.no_grad()
    def set_cluster_sizes(self, sizes: torch.Tensor) -> None:
        sizes = torch.as_tensor(sizes, dtype=torch.float64).flatten()
        if sizes.numel() != self.clusters:
            raise ValueError(f"cluster sizes must be {self.clusters} numbers, got {sizes.numel()}")
        self.cluster_bounds.copy_(_share_bounds(sizes).to(self.cluster_bounds.dtype))

    def cluster_of(self, z: torch.Tensor) -> torch.Tensor:
        """The cluster (int64, one per row) each latent of ``z`` (``B×latent_dim`` or ``B×latent_dim×1×1``) draws."""
        u = _uniform_of(z)
        return (u.unsqueeze(1) > self.cluster_bounds.to(u.dtype)).sum(1)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if labels is not None:
            raise ValueError("this generator is unconditional (self-conditioned on its own clusters); pass no labels")
        return self.net(z, self.cluster_of(z))


class SubclassConditionedGenerator(nn.Module):
    """A class-conditional generator ``(z, labels) -> image`` over ``num_classes`` classes made of a
    network ``net(z, fine_labels)`` trained on ``num_classes × m`` fine labels (each class split into
    ``m`` clusters by :func:`cluster_within_classes`). The cluster within the asked class is drawn from
    that class's cluster sizes through ``Φ(z₀)``, as in :class:`SelfConditionedGenerator`; so the
    model is deterministic in ``(z, labels)``.

    ``subcluster_bounds`` (a ``num_classes × (m − 1)`` buffer, saved with the weights) holds each
    class's inner cumulative shares.
    """

    def __init__(self, net: nn.Module, num_classes: int, sizes: torch.Tensor | None = None) -> None:
        super().__init__()
        fine = int(getattr(net, "num_classes", 0))
        if num_classes < 2 or fine < 2 * num_classes or fine % num_classes:
            raise ValueError(f"a sub-class-conditioned generator needs a network over m >= 2 clusters for each of "
                             f"{num_classes} classes (num_classes a multiple of {num_classes}), got num_classes={fine}")
        self.net = net
        self.latent_dim = int(net.latent_dim)
        self.num_classes = int(num_classes)   # what users pass labels for
        self.clusters = fine // num_classes   # m, per class
        # equal shares until set_cluster_sizes (meta-device safe, as above)
        bounds = (torch.arange(1, self.clusters, dtype=torch.float32) / self.clusters).expand(num_classes, -1)
        self.register_buffer("subcluster_bounds", bounds.clone())
        if sizes is not None:
            self.set_cluster_sizes(sizes)

    @torch.no_grad()
    def set_cluster_sizes(self, sizes: torch.Tensor) -> None:
        sizes = torch.as_tensor(sizes, dtype=torch.float64)
        if sizes.shape != (self.num_classes, self.clusters):
            raise ValueError(f"cluster sizes must be {self.num_classes}×{self.clusters}, got {tuple(sizes.shape)}")
        self.subcluster_bounds.copy_(_share_bounds(sizes).to(self.subcluster_bounds.dtype))

    def fine_labels(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The fine label ``c·m + j`` (int64, one per row) that latent ``z[i]`` of class ``labels[i]`` draws."""
        labels = labels.long()
        u = _uniform_of(z)
        bounds = self.subcluster_bounds.index_select(0, labels).to(u.dtype)
        return labels * self.clusters + (u.unsqueeze(1) > bounds).sum(1)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(z, self.fine_labels(z, check_labels(labels, z.shape[0], self.num_classes)))
