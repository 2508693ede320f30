"""The built-in plugin: pixelsmith's own metrics and degradations, registered through the same hooks."""

from __future__ import annotations

from .hookspecs import hookimpl
from .specs import DegradationSpec, MetricSpec


@hookimpl
def pixelsmith_register_metrics() -> list[MetricSpec]:
    from .metrics import builtin_metric_specs

    return builtin_metric_specs()


@hookimpl
def pixelsmith_register_degradations() -> list[DegradationSpec]:
    from .degradations import builtin_degradation_specs

    return builtin_degradation_specs()
