"""The public surface of ``pixelsmith``, pinned: adding or removing a name is a deliberate change."""

from __future__ import annotations

import inspect

import pixelsmith
import pixelsmith.testing

PUBLIC = {
    "__version__",
    # lookup
    "metric", "restorer", "generator", "degradation", "spec", "list_plugins", "list_components",
    # plugin contract
    "hookimpl", "MetricSpec", "RestorerSpec", "GeneratorSpec", "DegradationSpec", "WeightsFile",
    # component base classes
    "Metric", "MetricResult", "Restorer", "Generator", "Degradation", "Degraded", "make_generator",
    "as_image_batch",
    # images in and out, pipeline
    "read_image", "write_image", "save_grid", "Pipeline", "PipelineRecord", "PipelineSummary",
    # errors
    "PixelsmithError", "InvalidInputError", "UnknownComponentError", "PluginError", "PluginConflictError",
    "WeightsError", "ImageReadError", "ImageTooLargeError", "ResourceError", "TrainingError",
}

TESTING = {"check_restorer", "check_generator", "check_metric", "check_degradation", "check_resume", "check", "checks",
           "Check", "ConformanceError", "DEFAULT_SIZES", "registered", "check_golden", "check_export",
           "requires_component"}


def test_public_names_are_pinned():
    assert set(pixelsmith.__all__) == PUBLIC
    assert len(pixelsmith.__all__) == len(set(pixelsmith.__all__))  # no duplicates
    assert set(pixelsmith.testing.__all__) == TESTING


def test_every_public_name_exists_and_is_documented():
    for name in pixelsmith.__all__ + [f"testing.{n}" for n in pixelsmith.testing.__all__]:
        owner, attr = (pixelsmith.testing, name.split(".")[1]) if name.startswith("testing.") else (pixelsmith, name)
        obj = getattr(owner, attr)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            assert obj.__module__.startswith("pixelsmith"), name
            assert inspect.getdoc(obj), f"{name} has no docstring"


def test_nothing_else_public_leaks_from_the_package():
    leaked = {n for n in vars(pixelsmith) if not n.startswith("_")} - set(pixelsmith.__all__)
    modules = {n for n in leaked if inspect.ismodule(getattr(pixelsmith, n))}
    assert leaked == modules, f"public names outside __all__: {sorted(leaked - modules)}"
