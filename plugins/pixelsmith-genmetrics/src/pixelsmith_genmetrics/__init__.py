"""Offline generative metrics in the features of pixelsmith's own MNIST classifier.

>>> import pixelsmith
>>> fd = pixelsmith.metric("fd")            # doctest: +SKIP
>>> fd(samples, real_digits)                # doctest: +SKIP
tensor([1.23])

Registered metrics: ``fd``, ``kd``, ``precision``, ``recall``, ``confidence``,
``confident-fraction``, ``class-coverage``, ``memorisation`` and, when torchmetrics and local
Inception weights are present, ``fid``.
"""

__version__ = "0.1.0"

from .classifier import (  # noqa: E402
    CLASSIFIER_NAME,
    CLASSIFIER_WEIGHTS,
    FeatureExtractor,
    MnistClassifier,
    digit_split,
    load_feature_extractor,
    prepare_digits,
)
from .metrics import (  # noqa: E402
    ClassCoverage,
    Confidence,
    ConfidentFraction,
    FrechetDistance,
    KernelDistance,
    Memorisation,
    Precision,
    Recall,
    WorstCopies,
    worst_copies,
)
from .report import generative_report  # noqa: E402

__all__ = [
    "__version__",
    "CLASSIFIER_NAME",
    "CLASSIFIER_WEIGHTS",
    "MnistClassifier",
    "FeatureExtractor",
    "load_feature_extractor",
    "prepare_digits",
    "digit_split",
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
    "generative_report",
]
