"""The built-in plugin: pixelsmith's own metrics, degradations and procedural generators, registered
through the same hooks as any plugin."""

from __future__ import annotations

from .hookspecs import hookimpl
from .specs import DegradationSpec, GeneratorSpec, MetricSpec


@hookimpl
def pixelsmith_register_metrics() -> list[MetricSpec]:
    from .metrics import builtin_metric_specs

    return builtin_metric_specs()


@hookimpl
def pixelsmith_register_degradations() -> list[DegradationSpec]:
    from .degradations import builtin_degradation_specs

    return builtin_degradation_specs()


@hookimpl
def pixelsmith_register_generators() -> list[GeneratorSpec]:
    from .procedural import DeadLeavesGenerator

    return [GeneratorSpec(
        name="dead-leaves", factory=DeadLeavesGenerator, output_shape=(3, 128, 128), version="0.1.0",
        summary="Procedural dead-leaves images (r⁻³ sizes, natural colours, textures): restorers' training "
                "and test images; options size=, channels=, rmin=…")]
