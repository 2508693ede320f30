"""The small public API: look components up by name and build them.

>>> import pixelsmith
>>> m = pixelsmith.metric("psnr")
>>> float(m(torch.full((1, 1, 8, 8), 0.5), torch.full((1, 1, 8, 8), 0.6))[0])  # doctest: +ELLIPSIS
20.0...
"""

from __future__ import annotations

from typing import Any, Mapping

import torch

from .components import Degradation, Generator, Metric, Restorer, check_parameter_names
from .registry import declared_options, get_registry
from .specs import ComponentSpec, RestorerSpec, spec_facts

__all__ = ["metric", "restorer", "generator", "degradation", "spec", "list_plugins", "list_components",
           "check_params", "declared_options"]


def check_params(kind: str, name: str, params: Mapping[str, Any]) -> None:
    """Refuse, before any work, parameter names a component does not declare (with near matches):
    ``restore()`` parameters of a restorer (its spec's ``requires`` and ``accepts``), the options of
    any other kind (its factory's keyword arguments). Raises :class:`InvalidInputError`."""
    spec_ = get_registry().spec(kind, name)
    if isinstance(spec_, RestorerSpec):
        check_parameter_names(params, (*spec_.requires, *spec_.accepts), what=f"restorer {spec_.name!r}",
                              required=[p for p in spec_.requires if params.get(p) is None and p not in params])
        return
    declared = declared_options(spec_)
    if declared is not None:
        check_parameter_names(params, declared[0], what=f"{kind} {spec_.name!r}", required=declared[1])


def metric(name: str, /, **options: Any) -> Metric:
    """A metric by name: ``metric("ssim")(pred, target) -> Tensor[B]``."""
    return get_registry().build("metric", name, **options)


def restorer(name: str, /, *, device: str | torch.device | None = None, **options: Any) -> Restorer:
    """A restorer by name, with its pretrained weights loaded: ``restorer(name).restore(x)``."""
    return get_registry().build("restorer", name, device=device, **options)


def generator(name: str, /, *, device: str | torch.device | None = None, **options: Any) -> Generator:
    """A generator by name, with its pretrained weights loaded: ``generator(name).sample(n, seed=0)``."""
    return get_registry().build("generator", name, device=device, **options)


def degradation(name: str, /, **params: Any) -> Degradation:
    """A degradation by name with its parameters: ``degradation("gaussian-noise", sigma=0.1)(x, seed=0)``."""
    return get_registry().build("degradation", name, **params)


def spec(kind: str, name: str) -> ComponentSpec:
    """The registered spec of a component (its facts) without building it."""
    return get_registry().spec(kind, name)


def list_components(kind: str) -> list[str]:
    """Names of the registered components of one kind, sorted."""
    return get_registry().names(kind)


def list_plugins() -> dict[str, Any]:
    """Loaded plugins (distribution, version, components) and the plugins that failed, as plain data."""
    reg = get_registry()
    return {
        "plugins": [
            {
                "name": p.name,
                "distribution": p.distribution,
                "version": p.version,
                "components": [
                    {**spec_facts(found.spec), "name": name}  # the normalised name
                    for kind, name in p.components
                    if (found := reg.find(kind, name)) is not None and found.plugin is p
                ],
            }
            for p in reg.plugins
        ],
        "failures": [
            {"name": f.name, "distribution": f.distribution, "version": f.version,
             "stage": f.stage, "error": f.error}
            for f in reg.failures
        ],
    }
