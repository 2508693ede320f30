"""The plugin author's kit: conformance checks in the spirit of scikit-learn's ``check_estimator``.

>>> from pixelsmith.testing import check_restorer
>>> check_restorer("my-denoiser")          # doctest: +SKIP

Each ``check_*`` takes a registered name or an instance, runs every check and raises
:class:`ConformanceError` (an ``AssertionError``) listing all that failed. :func:`checks` returns the
individual checks, to make one pytest test of each. :func:`registered` makes plugins that are
not installed visible to name lookups for the duration of a test. :func:`check_resume` checks that a
trainer stopped and resumed ends exactly where an uninterrupted run ends. :func:`check_golden` reruns
the golden outputs recorded with a component's shipped weights (regenerate them with
``python -m pixelsmith.testing.golden --update NAME``); :func:`check_export` exports a component to
ONNX and TorchScript and compares onnxruntime's and TorchScript's outputs with PyTorch's. A GAN plugin
built on :class:`pixelsmith.plugin.TrainedGANGenerator` gets its whole test suite by subclassing
:class:`pixelsmith.testing.gan.GANPluginTests`.
:func:`requires_component` skips a test that needs another plugin's component when that plugin is
not installed. Under pytest the same is
available as fixtures (``pixelsmith_check``, ``pixelsmith_plugins``) through the ``pytest11``
entry point :mod:`pixelsmith.testing.pytest_plugin`.
"""

from __future__ import annotations

from ._checks import (
    DEFAULT_SIZES,
    Check,
    ConformanceError,
    check,
    check_degradation,
    check_generator,
    check_metric,
    check_restorer,
    checks,
)
from ._export import check_export
from ._golden import check_golden
from ._registry import registered
from ._resume import check_resume
from ._skips import requires_component

__all__ = [
    "check_restorer",
    "check_generator",
    "check_metric",
    "check_degradation",
    "check_resume",
    "check_golden",
    "check_export",
    "check",
    "checks",
    "Check",
    "ConformanceError",
    "DEFAULT_SIZES",
    "registered",
    "requires_component",
]
