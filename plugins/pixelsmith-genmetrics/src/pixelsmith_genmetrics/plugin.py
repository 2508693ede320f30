"""The plugin module named by the ``pixelsmith`` entry point: registers the generative metrics."""

from __future__ import annotations

from pixelsmith import MetricSpec, hookimpl

from . import __version__
from .classifier import CLASSIFIER_WEIGHTS


def _lazy(class_name: str):
    def factory(**options):
        from . import metrics

        return getattr(metrics, class_name)(**options)

    factory.__name__ = f"build_{class_name}"
    return factory


def _build_fid(**options):
    from .inception import build_fid

    return build_fid(**options)


@hookimpl
def pixelsmith_register_metrics() -> list[MetricSpec]:
    common = dict(version=__version__, weights=CLASSIFIER_WEIGHTS, data_range=1.0)
    dist = dict(common, reference="distributional")
    noref = dict(common, reference="no-reference")
    return [
        MetricSpec(name="fd", factory=_lazy("FrechetDistance"), higher_is_better=False,
                   summary="Fréchet distance in the penultimate features of pixelsmith's MNIST classifier", **dist),
        MetricSpec(name="kd", factory=_lazy("KernelDistance"), higher_is_better=False,
                   summary="Kernel distance: unbiased MMD² with the KID cubic kernel, in MNIST classifier features",
                   **dist),
        MetricSpec(name="precision", factory=_lazy("Precision"), higher_is_better=True,
                   summary="Improved precision (Kynkäänniemi 2019, k=3) in MNIST classifier features", **dist),
        MetricSpec(name="recall", factory=_lazy("Recall"), higher_is_better=True,
                   summary="Improved recall (Kynkäänniemi 2019, k=3) in MNIST classifier features", **dist),
        MetricSpec(name="confidence", factory=_lazy("Confidence"), higher_is_better=True,
                   summary="Mean max-softmax of generated digits under pixelsmith's MNIST classifier", **noref),
        MetricSpec(name="confident-fraction", factory=_lazy("ConfidentFraction"), higher_is_better=True,
                   summary="Fraction of generated digits classified with max-softmax >= 0.9", **noref),
        MetricSpec(name="class-coverage", factory=_lazy("ClassCoverage"), higher_is_better=True,
                   summary="Fraction of digit classes holding >= 7% of generated samples (or entropy coverage)",
                   **noref),
        MetricSpec(name="memorisation", factory=_lazy("Memorisation"), higher_is_better=False,
                   summary="Fraction of samples nearer a training image than 1% of unseen real digits are", **dist),
        MetricSpec(name="fid", factory=_build_fid, higher_is_better=False, version=__version__,
                   reference="distributional", data_range=1.0,
                   summary="Inception FID via torchmetrics, only with local weights (never downloads); else use fd"),
    ]
