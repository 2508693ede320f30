"""The small public API: look components up by name and build them.

>>> import pixelsmith
>>> m = pixelsmith.metric("psnr")
>>> float(m(torch.full((1, 1, 8, 8), 0.5), torch.full((1, 1, 8, 8), 0.6))[0])  # doctest: +ELLIPSIS
20.0...
"""

from __future__ import annotations

from typing import Any

import torch

from .components import Degradation, Generator, Metric, Restorer
from .errors import PixelsmithError, PluginError
from .registry import get_registry
from .specs import ComponentSpec, spec_facts

__all__ = ["metric", "restorer", "generator", "degradation", "spec", "list_plugins", "list_components"]


def _build(kind: str, name: str, expected: type, **kwargs: Any) -> Any:
    component = get_registry().get(kind, name)
    spec = component.spec
    try:
        obj = spec.factory(**kwargs)
    except PixelsmithError:
        raise
    except TypeError as exc:
        raise PluginError(
            f"{kind} {spec.name!r} could not be built with {sorted(kwargs) or 'no options'}: {exc}"
        ) from exc
    if not isinstance(obj, expected):
        raise PluginError(
            f"{kind} {spec.name!r} from {component.plugin.distribution}: factory returned "
            f"{type(obj).__name__}, expected a pixelsmith.{expected.__name__}"
        )
    if getattr(obj, "spec", None) is None:
        try:
            obj.spec = spec
        except AttributeError:
            pass
    return obj


def metric(name: str, **options: Any) -> Metric:
    """A metric by name: ``metric("ssim")(pred, target) -> Tensor[B]``."""
    return _build("metric", name, Metric, **options)


def restorer(name: str, *, device: str | torch.device | None = None, **options: Any) -> Restorer:
    """A restorer by name, with its pretrained weights loaded: ``restorer(name).restore(x)``."""
    return _build("restorer", name, Restorer, device=device, **options)


def generator(name: str, *, device: str | torch.device | None = None, **options: Any) -> Generator:
    """A generator by name, with its pretrained weights loaded: ``generator(name).sample(n, seed=0)``."""
    return _build("generator", name, Generator, device=device, **options)


def degradation(name: str, **params: Any) -> Degradation:
    """A degradation by name with its parameters: ``degradation("gaussian-noise", sigma=0.1)(x, seed=0)``."""
    return _build("degradation", name, Degradation, **params)


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
                    {**spec_facts(reg.components[kind][name].spec), "name": name}  # the normalised name
                    for kind, name in p.components
                    if name in reg.components[kind] and reg.components[kind][name].plugin is p
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
