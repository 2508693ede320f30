"""Metric components: the functions of :mod:`.functional` behind ``pixelsmith.metric(name)``.

Shape convention: a distributional metric is called as ``metric(generated, real)`` with two
image sets ``N×C×H×W`` and ``M×C×H×W`` (N and M may differ) and returns a 1-element float32
tensor (shape ``(1,)``), the value for the pair of sets. ``confidence``, ``confident-fraction``
and ``class-coverage`` need no reference: ``metric(generated)`` (a second argument is ignored).
Every result's settings (``metric.evaluate(...)``) name the feature extractor and its sha256.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from pixelsmith.plugin import InvalidInputError, Metric, MetricResult, WeightsFile, as_image_batch

from . import functional as GF
from .classifier import FeatureExtractor, load_feature_extractor

__all__ = [
    "GenerativeMetric",
    "FrechetDistance",
    "KernelDistance",
    "Precision",
    "Recall",
    "Confidence",
    "ConfidentFraction",
    "ClassCoverage",
    "Memorisation",
    "WorstCopies",
    "worst_copies",
]


class GenerativeMetric(Metric):
    """Base of this plugin's metrics: builds the shipped feature extractor, compares sets, not pairs."""

    name = "generative"
    higher_is_better = False
    min_samples = 2

    def __init__(self, *, device: str | torch.device | None = None, resize: bool = False,
                 batch_size: int = 500, weights: WeightsFile | None = None) -> None:
        self.extractor: FeatureExtractor = load_feature_extractor(device, weights=weights, resize=resize,
                                                                  batch_size=batch_size)

    @property
    def settings(self) -> dict[str, Any]:
        return {**self.extractor.provenance, **self._own_settings()}

    def _own_settings(self) -> dict[str, Any]:
        return {}

    def _check_pair(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        # Sets, not pairs: sizes may differ; each needs enough samples for the statistic.
        for t, label in ((pred, "generated"), (target, "real")):
            if t.shape[0] < self.min_samples:
                raise InvalidInputError(
                    f"{self.name}: {label} set has {t.shape[0]} images, needs at least {self.min_samples}"
                )

    def _result(self, value: float) -> torch.Tensor:
        return torch.tensor([value], dtype=torch.float32)


class _FeatureDistance(GenerativeMetric):
    def _compute(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        g = self.extractor.features(pred, name="generated")
        r = self.extractor.features(target, name="real")
        return self._result(self._from_features(g, r))

    def _from_features(self, g: torch.Tensor, r: torch.Tensor) -> float:
        raise NotImplementedError


class FrechetDistance(_FeatureDistance):
    """Fréchet distance between Gaussian fits of the classifier's penultimate features (FID's formula)."""

    name = "fd"
    higher_is_better = False

    def _own_settings(self) -> dict[str, Any]:
        return {"covariance": "sample (N-1)", "sqrtm": "eigh of S1^½ S2 S1^½ (float64)"}

    def _from_features(self, g: torch.Tensor, r: torch.Tensor) -> float:
        return GF.frechet_distance(g, r)


class KernelDistance(_FeatureDistance):
    """Unbiased MMD² with the KID kernel ``(x·y/d + 1)^3``, averaged over random subsets."""

    name = "kd"
    higher_is_better = False

    def __init__(self, *, subsets: int = 100, subset_size: int = 1000, seed: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if subsets < 1 or subset_size < 2:
            raise InvalidInputError(f"kd: subsets must be ≥ 1 and subset_size ≥ 2, got {subsets}, {subset_size}")
        self.subsets, self.subset_size, self.seed = subsets, subset_size, seed
        self.last_std: float | None = None

    def _own_settings(self) -> dict[str, Any]:
        return {"kernel": "polynomial (x·y/d + 1)^3", "estimator": "unbiased MMD²", "subsets": self.subsets,
                "subset_size": self.subset_size, "seed": self.seed}

    def _from_features(self, g: torch.Tensor, r: torch.Tensor) -> float:
        mean, std = GF.kernel_distance(g, r, subsets=self.subsets, subset_size=self.subset_size, seed=self.seed)
        self.last_std = std
        return mean

    def evaluate(self, pred: Any, target: Any) -> MetricResult:
        result = super().evaluate(pred, target)
        result.settings["std_over_subsets"] = self.last_std
        return result


class _PrecisionRecall(_FeatureDistance):
    higher_is_better = True
    which = 0

    def __init__(self, *, k: int = 3, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if k < 1:
            raise InvalidInputError(f"{self.name}: k must be ≥ 1, got {k}")
        self.k = k
        self.min_samples = k + 1

    def _own_settings(self) -> dict[str, Any]:
        return {"k": self.k, "method": "Kynkäänniemi et al. 2019, k-NN hyperspheres, Euclidean"}

    def _from_features(self, g: torch.Tensor, r: torch.Tensor) -> float:
        query, support = (g, r) if self.which == 0 else (r, g)
        return GF.manifold_coverage(query, support, k=self.k)


class Precision(_PrecisionRecall):
    """Fraction of generated samples inside the real k-NN manifold (fidelity)."""

    name = "precision"
    which = 0


class Recall(_PrecisionRecall):
    """Fraction of real samples inside the generated k-NN manifold (diversity)."""

    name = "recall"
    which = 1


class _NoReference(GenerativeMetric):
    higher_is_better = True
    min_samples = 1

    def __call__(self, pred: Any, target: Any = None) -> torch.Tensor:  # type: ignore[override]
        return self._compute(as_image_batch(pred, name="generated"), None)

    def evaluate(self, pred: Any, target: Any = None) -> MetricResult:  # type: ignore[override]
        return MetricResult(self.name, self(pred), {"metric": self.name, **self.settings}, self.higher_is_better)

    def _compute(self, pred: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
        return self._result(self._from_probs(self.extractor.probabilities(pred, name="generated")))

    def _from_probs(self, p: torch.Tensor) -> float:
        raise NotImplementedError


class Confidence(_NoReference):
    """Mean max-softmax probability of the generated samples."""

    name = "confidence"

    def _own_settings(self) -> dict[str, Any]:
        return {"statistic": "mean of max softmax probability"}

    def _from_probs(self, p: torch.Tensor) -> float:
        return float(p.max(1).values.mean())


class ConfidentFraction(_NoReference):
    """Fraction of generated samples whose max-softmax probability is ≥ ``threshold`` (0.9)."""

    name = "confident-fraction"

    def __init__(self, *, threshold: float = 0.9, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not 0 < threshold <= 1:
            raise InvalidInputError(f"confident-fraction: threshold must lie in (0, 1], got {threshold}")
        self.threshold = threshold

    def _own_settings(self) -> dict[str, Any]:
        return {"statistic": "fraction with max softmax ≥ threshold", "threshold": self.threshold}

    def _from_probs(self, p: torch.Tensor) -> float:
        return float((p.max(1).values >= self.threshold).double().mean())


class ClassCoverage(_NoReference):
    """Fraction of the 10 digit classes with share ≥ ``threshold`` of arg-max labels (or entropy coverage)."""

    name = "class-coverage"

    def __init__(self, *, threshold: float = 0.07, mode: str = "threshold", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if mode not in ("threshold", "entropy"):
            raise InvalidInputError(f"class-coverage: mode must be 'threshold' or 'entropy', got {mode!r}")
        self.threshold, self.mode = threshold, mode
        self.last_shares: list[float] | None = None

    def _own_settings(self) -> dict[str, Any]:
        if self.mode == "entropy":
            return {"mode": "entropy", "statistic": "exp(H(class histogram)) / 10 of arg-max labels"}
        return {"mode": "threshold", "threshold": self.threshold,
                "statistic": "fraction of classes whose arg-max share ≥ threshold"}

    def _from_probs(self, p: torch.Tensor) -> float:
        self.last_shares = (torch.bincount(p.argmax(1), minlength=p.shape[1]).double() / len(p)).tolist()
        return GF.class_coverage(p, threshold=self.threshold, mode=self.mode)

    def evaluate(self, pred: Any, target: Any = None) -> MetricResult:  # type: ignore[override]
        result = super().evaluate(pred, target)
        result.settings["class_shares"] = self.last_shares
        return result


# -- memorisation ------------------------------------------------------------------------------------

def _flat_pixels(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(len(x), -1).double().cpu()


class Memorisation(GenerativeMetric):
    """``memorisation(generated, train)``: how many samples sit closer to a training image than real
    digits not trained on do.

    For each generated sample, its Euclidean distance to the nearest training image. Reference:
    the same distance for real images the model never saw (``holdout=``) or, when none are given,
    each training image's distance to its nearest *other* training image (leave-one-out).
    Score: fraction of generated samples closer than the ``percentile``-th percentile (1 %) of the
    reference distances: ≈ 0.01 for a model that does not copy, 1 for copies. ``space``:
    ``"pixels"`` (default; all images must share C×H×W) or ``"features"`` (the classifier's).
    """

    name = "memorisation"
    higher_is_better = False

    def __init__(self, *, holdout: Any = None, space: str = "pixels", percentile: float = 1.0,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if space not in ("pixels", "features"):
            raise InvalidInputError(f"memorisation: space must be 'pixels' or 'features', got {space!r}")
        if not 0 < percentile < 100:
            raise InvalidInputError(f"memorisation: percentile must lie in (0, 100), got {percentile}")
        self.space, self.percentile = space, percentile
        self.holdout = None if holdout is None else as_image_batch(holdout, name="holdout")
        self.last_threshold: float | None = None

    def _own_settings(self) -> dict[str, Any]:
        ref = (f"held-out real images ({len(self.holdout)}) nearest-train distances" if self.holdout is not None
               else "leave-one-out nearest-neighbour distances within the training set")
        out: dict[str, Any] = {"space": self.space, "distance": "Euclidean", "percentile": self.percentile,
                               "reference": ref,
                               "statistic": "fraction of generated samples nearer the training set than the "
                                            "reference percentile"}
        if self.space == "pixels":
            out["feature_extractor"] = "none (pixel space)"
            out.pop("feature_extractor_sha256", None)
        return out

    @property
    def settings(self) -> dict[str, Any]:
        s = super().settings
        if self.space == "pixels":
            for key in ("feature_extractor_sha256", "feature_layer"):
                s.pop(key, None)
        return s

    def embed(self, x: torch.Tensor, name: str) -> torch.Tensor:
        """The vectors distances are measured between: flattened pixels or classifier features."""
        if self.space == "features":
            return self.extractor.features(x, name=name)
        return _flat_pixels(x)

    def _check_pair(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        if target.shape[0] < 2:
            raise InvalidInputError(f"memorisation: the training set needs at least 2 images, got {target.shape[0]}")
        if self.space == "pixels":
            others = [("train", target)] + ([("holdout", self.holdout)] if self.holdout is not None else [])
            for label, t in others:
                if t.shape[1:] != pred.shape[1:]:
                    raise InvalidInputError(
                        f"memorisation in pixel space needs generated and {label} images of one C×H×W, got "
                        f"{tuple(pred.shape[1:])} and {tuple(t.shape[1:])}; convert them or use space='features'"
                    )

    def distances(self, generated: torch.Tensor, train: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(generated→train distances, nearest train indices, reference distances)``."""
        e_train = self.embed(train, "train")
        d_gen, idx = GF.nearest_distances(self.embed(generated, "generated"), e_train)
        if self.holdout is not None:
            d_ref, _ = GF.nearest_distances(self.embed(self.holdout, "holdout"), e_train)
        else:
            d_ref, _ = GF.nearest_distances(e_train, e_train, exclude_self=True)
        return d_gen, idx, d_ref

    def _compute(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        d_gen, _, d_ref = self.distances(pred, target)
        score, self.last_threshold = GF.memorisation_score(d_gen, d_ref, percentile=self.percentile)
        return self._result(score)

    def evaluate(self, pred: Any, target: Any) -> MetricResult:
        result = super().evaluate(pred, target)
        result.settings["threshold_distance"] = self.last_threshold
        return result


@dataclass(frozen=True)
class WorstCopies:
    """The generated samples nearest to a training image, each beside that image."""

    grid: torch.Tensor              #: 1×C×H×W image grid: rows of (sample | nearest training image) pairs
    distances: torch.Tensor         #: distance of each shown sample to its nearest training image, ascending
    generated_index: torch.Tensor   #: index of each shown sample in ``generated``
    train_index: torch.Tensor       #: index of its nearest training image in ``train``

    def save(self, path: str | Path) -> Path:
        """Write the grid as an 8-bit PNG (or any format imageio knows from the suffix)."""
        import imageio.v3 as iio

        from pixelsmith.plugin import to_numpy_image

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        iio.imwrite(path, (to_numpy_image(self.grid) * 255).round().astype("uint8"))
        return path


def _pair_grid(left: torch.Tensor, right: torch.Tensor, pairs_per_row: int, pad: int) -> torch.Tensor:
    n, c, h, w = left.shape
    pairs = torch.cat([F.pad(left, (pad, 0, pad, pad), value=1.0), F.pad(right, (1, pad, pad, pad), value=1.0)],
                      dim=3)  # a thin white line between sample and neighbour, wider margins between pairs
    rows = -(-n // pairs_per_row)
    blank = torch.ones(rows * pairs_per_row - n, *pairs.shape[1:])
    pairs = torch.cat([pairs, blank]).reshape(rows, pairs_per_row, c, pairs.shape[2], pairs.shape[3])
    return pairs.permute(2, 0, 3, 1, 4).reshape(1, c, rows * pairs.shape[3], pairs_per_row * pairs.shape[4])


def worst_copies(generated: Any, train: Any, *, n: int = 16, pairs_per_row: int = 4, padding: int = 2,
                 space: str = "pixels", device: str | torch.device | None = None) -> WorstCopies:
    """The ``n`` generated samples nearest to the training set, as a grid of (sample | nearest) pairs.

    >>> copies = worst_copies(samples, train_digits, n=16)   # doctest: +SKIP
    >>> copies.save("worst_copies.png")                       # doctest: +SKIP
    """
    g = as_image_batch(generated, name="generated")
    t = as_image_batch(train, name="train")
    if n < 1 or pairs_per_row < 1:
        raise InvalidInputError(f"n and pairs_per_row must be ≥ 1, got {n} and {pairs_per_row}")
    if g.shape[1:] != t.shape[1:]:
        raise InvalidInputError(f"generated and train images must share C×H×W to be shown side by side, got "
                                f"{tuple(g.shape[1:])} and {tuple(t.shape[1:])}")
    m = Memorisation(space=space, device=device)
    d, idx = GF.nearest_distances(m.embed(g, "generated"), m.embed(t, "train"))
    order = torch.argsort(d)[:n]
    grid = _pair_grid(g[order].cpu(), t[idx[order]].cpu(), pairs_per_row, padding)
    return WorstCopies(grid, d[order], order, idx[order])
