"""The small public API: look components up by name and build them.

>>> import pixelsmith
>>> m = pixelsmith.metric("psnr")
>>> float(m(torch.full((1, 1, 8, 8), 0.5), torch.full((1, 1, 8, 8), 0.6))[0])  # doctest: +ELLIPSIS
20.0...
"""

from __future__ import annotations

import inspect
import json
from typing import Any, Mapping

import torch

from .components import Degradation, Generator, Metric, Restorer, check_parameter_names
from .errors import (
    InvalidInputError,
    PixelsmithError,
    PluginError,
    ResourceError,
    WeightsError,
    is_out_of_memory,
)
from .registry import get_registry
from .specs import ComponentSpec, DegradationSpec, RestorerSpec, spec_facts

__all__ = ["metric", "restorer", "generator", "degradation", "spec", "list_plugins", "list_components",
           "check_params", "declared_options"]

#: options the API passes to every restorer and generator factory itself
_API_OPTIONS = ("device",)


def declared_options(spec: ComponentSpec) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """``(names, required)`` of the options ``spec``'s factory takes (``device`` left out), or None
    when they cannot be known (a factory taking ``**kwargs``, or no signature)."""
    try:
        signature = inspect.signature(spec.factory)
    except (TypeError, ValueError):
        return None
    names: list[str] = []
    required: list[str] = []
    for p in signature.parameters.values():
        if p.kind is p.VAR_KEYWORD:
            if isinstance(spec, DegradationSpec) and spec.params:  # the spec lists them instead
                return tuple(spec.params), ()
            return None
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in _API_OPTIONS:
            names.append(p.name)
            if p.default is p.empty:
                required.append(p.name)
    return tuple(names), tuple(required)


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


def _shown(options: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r:.40}" for k, v in options.items()) or "no options"


def _build(kind: str, name: str, expected: type, **kwargs: Any) -> Any:
    component = get_registry().get(kind, name)
    spec = component.spec
    given = {k: v for k, v in kwargs.items() if not (k in _API_OPTIONS and v is None)}
    declared = declared_options(spec)
    if declared is not None:
        check_parameter_names([k for k in given if k not in _API_OPTIONS], declared[0],
                              what=f"{kind} {spec.name!r}", required=declared[1])
    weights = kwargs.get("weights")
    if isinstance(weights, (str, bytes)) or hasattr(weights, "__fspath__"):
        from .weights import check_weights_file

        check_weights_file(weights)  # a user's file: readable, its metadata JSON well-formed, before the plugin
    try:
        obj = spec.factory(**kwargs)
    except PixelsmithError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever a factory raises, the caller gets our hierarchy
        what = f"{kind} {spec.name!r} with {_shown(given)}"
        if is_out_of_memory(exc):
            raise ResourceError(f"building {what} ran out of memory ({type(exc).__name__}: {exc})") from exc
        if weights is not None and isinstance(exc, (KeyError, json.JSONDecodeError)):
            raise WeightsError(f"{kind} {spec.name!r}: weights file {weights} lacks or garbles the metadata "
                               f"the plugin needs ({type(exc).__name__}: {exc}); use a file its trainer wrote") from exc
        if isinstance(exc, TypeError) or not given:
            raise PluginError(f"{kind} {spec.name!r} could not be built with {sorted(given) or 'no options'}: "
                              f"{type(exc).__name__}: {exc}") from exc
        if isinstance(exc, ValueError):
            raise InvalidInputError(f"{what}: {exc}") from exc
        raise PluginError(f"{kind} {spec.name!r} could not be built with {sorted(given)}: "
                          f"{type(exc).__name__}: {exc}") from exc
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
