"""Plugin discovery and the component registry.

Plugins are found through ``importlib.metadata`` entry points in the ``pixelsmith`` group. A
plugin that fails to import, whose hook raises, or that returns a malformed spec is recorded
as a :class:`PluginFailure` and skipped; every other plugin keeps working. Environment:

- ``PIXELSMITH_STRICT_PLUGINS=1``: any such failure raises :class:`PluginError` instead (for CI).
- ``PIXELSMITH_LOAD_PLUGINS=a,b``: load only these plugins (distribution or entry-point names);
  empty: load none. The built-in plugin is always loaded.

Two plugins registering one name (per kind) is a :class:`PluginFailure` of the later one: the
built-in plugin, or else the first loaded (entry points load in name order), keeps the name; the
message names both distributions. Strict mode raises :class:`PluginConflictError` instead.

What the rest of pixelsmith uses: :meth:`Registry.get`/:meth:`~Registry.find`/:meth:`~Registry.spec`
to look a component up, :meth:`~Registry.names`/:meth:`~Registry.items` to list them,
:meth:`~Registry.build` (the one way a component is built from its spec: option names checked, a
user's weights file checked, the spec bound to the instance and its facts checked) and
:meth:`~Registry.activate` (a context manager that makes a registry the process registry, for the
conformance kit and tests). One :class:`pluggy.PluginManager` holds every plugin.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib.metadata as md
import inspect
import json
import os
import threading
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping

import pluggy

from . import hookspecs
from .errors import (
    InvalidInputError,
    PixelsmithError,
    PluginConflictError,
    PluginError,
    ResourceError,
    UnknownComponentError,
    WeightsError,
    is_out_of_memory,
)
from .specs import (
    ComponentSpec,
    DegradationSpec,
    GeneratorSpec,
    MetricSpec,
    RestorerSpec,
    normalize_name,
    validate_spec,
)

__all__ = ["Registry", "PluginInfo", "PluginFailure", "Component", "get_registry", "reset_registry", "KINDS",
           "declared_options"]

ENTRY_POINT_GROUP = hookspecs.PROJECT_NAME
BUILTIN_PLUGIN = "pixelsmith.builtin"

#: kind -> (hook name, spec class)
KINDS: dict[str, tuple[str, type[ComponentSpec]]] = {
    "generator": ("pixelsmith_register_generators", GeneratorSpec),
    "restorer": ("pixelsmith_register_restorers", RestorerSpec),
    "metric": ("pixelsmith_register_metrics", MetricSpec),
    "degradation": ("pixelsmith_register_degradations", DegradationSpec),
}


@dataclass(frozen=True)
class PluginInfo:
    """A loaded plugin: where it came from and what it registered."""

    name: str
    distribution: str
    version: str
    components: tuple[tuple[str, str], ...] = ()  # (kind, name)


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be used, and why."""

    name: str
    distribution: str
    version: str
    stage: str  # "import", "hook <name>", "spec"
    error: str


@dataclass(frozen=True)
class Component:
    spec: ComponentSpec
    plugin: PluginInfo


@dataclass
class Registry:
    """All components of all loaded plugins, looked up by kind and normalised name."""

    plugins: list[PluginInfo] = field(default_factory=list)
    failures: list[PluginFailure] = field(default_factory=list)
    components: dict[str, dict[str, Component]] = field(
        default_factory=lambda: {kind: {} for kind in KINDS}
    )
    strict: bool = False
    #: the one plugin manager every plugin is registered with
    pm: pluggy.PluginManager = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs.PixelsmithSpec)

    # -- building -------------------------------------------------------------------------------
    @classmethod
    def discover(cls, *, strict: bool | None = None, only: Iterable[str] | None = None,
                 entry_points: Iterable[md.EntryPoint] | None = None) -> "Registry":
        """Load the built-in plugin and every ``pixelsmith`` entry point (see module docs)."""
        if strict is None:
            strict = os.environ.get("PIXELSMITH_STRICT_PLUGINS", "") not in ("", "0", "false", "no")
        if only is None and "PIXELSMITH_LOAD_PLUGINS" in os.environ:
            only = [p for p in os.environ["PIXELSMITH_LOAD_PLUGINS"].split(",") if p.strip()]
        wanted = None if only is None else {normalize_name(p) for p in only}
        registry = cls(strict=strict)

        from . import builtin  # the built-in metrics and degradations are a plugin like any other

        registry.add_plugin(builtin, name=BUILTIN_PLUGIN, distribution="pixelsmith",
                            version=_dist_version("pixelsmith"))
        eps = md.entry_points(group=ENTRY_POINT_GROUP) if entry_points is None else entry_points
        matched: set[str] = set()
        installed: list[str] = []
        for ep in sorted(eps, key=lambda e: e.name):
            dist = ep.dist.name if getattr(ep, "dist", None) else ep.name
            version = ep.dist.version if getattr(ep, "dist", None) else "unknown"
            installed.append(dist)
            if wanted is not None:
                matched |= {normalize_name(ep.name), normalize_name(dist)} & wanted
            if wanted is not None and not {normalize_name(ep.name), normalize_name(dist)} & wanted:
                continue
            try:
                module = ep.load()
            except (Exception, SystemExit) as exc:  # noqa: BLE001 - a broken plugin must not take us down
                registry._fail(PluginFailure(ep.name, dist, version, "import", _describe(exc)))
                continue
            registry.add_plugin(module, name=ep.name, distribution=dist, version=version)
        builtin_names = {normalize_name(BUILTIN_PLUGIN), "pixelsmith"}
        for name in sorted((wanted or set()) - matched - builtin_names):
            # a typo in the variable would otherwise silently leave only the built-ins
            registry._fail(PluginFailure(
                name, "", "", "PIXELSMITH_LOAD_PLUGINS",
                f"PIXELSMITH_LOAD_PLUGINS names {name!r}, but no installed plugin has that name; installed: "
                f"{', '.join(sorted(set(installed))) or 'none'} (unset the variable to load them all)"))
        return registry

    def add_plugin(self, plugin: Any, *, name: str, distribution: str = "", version: str = "") -> PluginInfo | None:
        """Register one plugin object or module: call its hooks, validate and index its specs."""
        key = name
        for i in range(2, 1000):  # two entry points of one name, or one object added twice
            if self.pm.get_plugin(key) is None and not self.pm.is_registered(plugin):
                break
            if self.pm.is_registered(plugin):
                self._fail(PluginFailure(name, distribution, version, "register",
                                         "this plugin object is already registered"))
                return None
            key = f"{name}#{i}"
        try:
            self.pm.register(plugin, name=key)
        except Exception as exc:  # noqa: BLE001 - e.g. a hookimpl with an unknown argument
            self._fail(PluginFailure(name, distribution, version, "register", _describe(exc)))
            return None
        found: list[tuple[str, ComponentSpec]] = []
        for kind, (hook_name, spec_cls) in KINDS.items():
            # this plugin's hook implementations alone (the hooks take no arguments), so that a
            # failure is its own and its specs are attributed to it; plugins need not be hashable
            impls = [impl for impl in getattr(self.pm.hook, hook_name).get_hookimpls() if impl.plugin is plugin]
            if not impls:
                continue
            try:
                results = [impl.function() for impl in impls]
            except Exception as exc:  # noqa: BLE001
                self._fail(PluginFailure(name, distribution, version, f"hook {hook_name}", _describe(exc)))
                continue
            for specs in results:
                if not isinstance(specs, (list, tuple)):
                    specs = [specs]
                for spec in specs:
                    try:
                        found.append((kind, validate_spec(spec, spec_cls)))
                    except PluginError as exc:
                        self._fail(PluginFailure(name, distribution, version, "spec", str(exc)))
        # a name already taken stays with whoever took it first (the built-in plugin loads first):
        # the newcomer's component is skipped and reported, so one clash breaks no other command
        kept: dict[tuple[str, str], ComponentSpec] = {}
        for kind, spec in found:
            key = normalize_name(spec.name)
            holder = self.components[kind].get(key)
            if holder is not None:
                self._clash(kind, key, holder.plugin.name, holder.plugin.distribution, name, distribution, version)
            elif (kind, key) in kept:  # one plugin returning the name twice
                self._clash(kind, key, name, distribution, name, distribution, version)
            else:
                kept[(kind, key)] = spec
        info = PluginInfo(name, distribution, version, tuple(kept))
        for (kind, key), spec in kept.items():
            self.components[kind][key] = Component(spec, info)
        self.plugins.append(info)
        return info

    def _clash(self, kind: str, key: str, holder: str, holder_dist: str, name: str, distribution: str,
               version: str) -> None:
        who = "the built-in plugin" if holder == BUILTIN_PLUGIN else f"plugin {holder}"
        message = (f"{kind} {key!r} is registered by both {holder_dist} ({who}) and {distribution} "
                   f"(plugin {name}); the one from {holder_dist} keeps the name and the one from {distribution} "
                   "is skipped. Rename one of them, or uninstall one")
        if self.strict:
            raise PluginConflictError(f"{message} (PIXELSMITH_STRICT_PLUGINS is set)")
        self.failures.append(PluginFailure(name, distribution, version, f"name clash ({kind} {key!r})", message))

    def _fail(self, failure: PluginFailure) -> None:
        if self.strict:
            raise PluginError(
                f"plugin {failure.name} from {failure.distribution} {failure.version} failed at "
                f"{failure.stage}: {failure.error} (PIXELSMITH_STRICT_PLUGINS is set)"
            )
        self.failures.append(failure)

    # -- lookup ---------------------------------------------------------------------------------
    def names(self, kind: str) -> list[str]:
        return sorted(self.components[kind])

    def get(self, kind: str, name: str) -> Component:
        if kind not in KINDS:
            raise UnknownComponentError(f"unknown component kind {kind!r}; use one of {sorted(KINDS)}")
        key = normalize_name(name)
        try:
            return self.components[kind][key]
        except KeyError:
            pass
        names = self.names(kind)
        close = difflib.get_close_matches(key, names, n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        failed = [f for f in self.failures]
        note = (f" ({len(failed)} plugin(s) failed to load: run `pixelsmith plugins`)") if failed else ""
        filtered = [f for f in failed if f.stage == "PIXELSMITH_LOAD_PLUGINS"]
        if filtered:
            note = f" ({filtered[0].error})"
        raise UnknownComponentError(
            f"no {kind} named {name!r}{hint} Available {kind}s: {', '.join(names) or 'none'}{note}"
        )

    def spec(self, kind: str, name: str) -> ComponentSpec:
        return self.get(kind, name).spec

    def find(self, kind: str, name: str) -> Component | None:
        """The component ``name`` of ``kind``, or None (no error, no suggestions)."""
        return self.components.get(kind, {}).get(normalize_name(name))

    def items(self, kind: str) -> list[tuple[str, Component]]:
        """``(name, component)`` of every component of ``kind``, sorted by name."""
        return sorted(self.components[kind].items())

    def build(self, kind: str, name: str, /, **options: Any) -> Any:
        """Build the component ``name`` of ``kind`` from its spec: the one build path.

        Option names are checked against the factory's signature (near matches, required ones;
        ``device=None`` means the default), a user's ``weights=`` file is checked before the plugin
        reads it, whatever the factory raises becomes a :class:`PixelsmithError`, and the built
        object must be the kind's base class. Its spec is then bound to it and its facts checked
        (a class that declares ``higher_is_better`` against its spec is refused), so ``name``,
        ``higher_is_better``, channels and parameters come from the spec however it was built.
        ``kind`` and ``name`` are positional-only: a component may take options of those names.
        """
        from .components import check_parameter_names

        component = self.get(kind, name)
        spec = component.spec
        given = {k: v for k, v in options.items() if not (k in _BUILD_OPTIONS and v is None)}
        declared = declared_options(spec)
        if declared is not None:
            check_parameter_names([k for k in given if k not in _BUILD_OPTIONS], declared[0],
                                  what=f"{kind} {spec.name!r}", required=declared[1])
        weights = options.get("weights")
        if isinstance(weights, (str, bytes)) or hasattr(weights, "__fspath__"):
            from .weights import check_weights_file

            check_weights_file(weights)  # a user's file: readable, its metadata well-formed, before the plugin
        try:
            obj = spec.factory(**options)
        except PixelsmithError:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever a factory raises, the caller gets our hierarchy
            raise _build_error(kind, spec, given, weights, exc) from exc
        base = _base_class(kind)
        if not isinstance(obj, base):
            raise PluginError(f"{kind} {spec.name!r} from {component.plugin.distribution}: factory returned "
                              f"{type(obj).__name__}, expected a pixelsmith.{base.__name__}")
        bind_spec(obj, spec)
        record_build_options(obj, {k: v for k, v in options.items() if k != "device"})
        return obj

    @contextlib.contextmanager
    def activate(self) -> Iterator["Registry"]:
        """Make this registry the process registry (what :func:`get_registry` returns) inside the
        ``with`` block; the previous one is restored on exit, so tests do not leak into each other."""
        global _registry
        with _lock:
            previous = _registry
            _registry = self
        try:
            yield self
        finally:
            with _lock:
                _registry = previous


#: options the build path passes to every restorer and generator factory itself
_BUILD_OPTIONS = ("device",)


def _base_class(kind: str) -> type:
    from .components import Degradation, Generator, Metric, Restorer

    return {"metric": Metric, "restorer": Restorer, "generator": Generator, "degradation": Degradation}[kind]


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
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in _BUILD_OPTIONS:
            names.append(p.name)
            if p.default is p.empty:
                required.append(p.name)
    return tuple(names), tuple(required)


def _shown(options: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r:.40}" for k, v in options.items()) or "no options"


def _build_error(kind: str, spec: ComponentSpec, given: Mapping[str, Any], weights: Any,
                 exc: Exception) -> PixelsmithError:
    what = f"{kind} {spec.name!r} with {_shown(given)}"
    if is_out_of_memory(exc):
        return ResourceError(f"building {what} ran out of memory ({type(exc).__name__}: {exc})")
    if weights is not None and isinstance(exc, (KeyError, json.JSONDecodeError)):
        return WeightsError(f"{kind} {spec.name!r}: weights file {weights} lacks or garbles the metadata "
                            f"the plugin needs ({type(exc).__name__}: {exc}); use a file its trainer wrote")
    if isinstance(exc, TypeError) or not given:
        return PluginError(f"{kind} {spec.name!r} could not be built with {sorted(given) or 'no options'}: "
                           f"{type(exc).__name__}: {exc}")
    if isinstance(exc, ValueError):
        return InvalidInputError(f"{what}: {exc}")
    return PluginError(f"{kind} {spec.name!r} could not be built with {sorted(given)}: "
                       f"{type(exc).__name__}: {exc}")


def bind_spec(obj: Any, spec: ComponentSpec) -> None:
    """Attach ``spec`` to a component built from it, and check what its class declares against it:
    a metric class whose own ``higher_is_better`` contradicts the spec is refused
    (:class:`PluginError`), since every result would carry the wrong direction."""
    from .components import Metric, declared_fact

    if isinstance(obj, Metric) and isinstance(spec, MetricSpec):
        declared = declared_fact(type(obj), "higher_is_better")
        if declared is not None and bool(declared) != spec.higher_is_better:
            raise PluginError(f"metric {spec.name!r}: its class {type(obj).__name__} declares higher_is_better = "
                              f"{declared} but its spec says {spec.higher_is_better}; drop the class attribute "
                              "(the spec is the one source)")
    if getattr(obj, "spec", None) is not spec:
        try:
            obj.spec = spec
        except AttributeError:  # a component that does not let its spec be set keeps its own
            pass


#: The attribute under which :meth:`Registry.build` leaves the options a component was built with.
_BUILD_OPTIONS_ATTR = "_pixelsmith_build_options"


def record_build_options(obj: Any, options: Mapping[str, Any]) -> None:
    """Remember on ``obj`` the options (all but ``device``) it was built with, so that the same component can
    be built again on another device (:func:`build_options`). An object that refuses attributes is left as is."""
    try:
        setattr(obj, _BUILD_OPTIONS_ATTR, dict(options))  # a plain dict: the component stays picklable
    except AttributeError:
        pass


def build_options(obj: Any) -> Mapping[str, Any] | None:
    """The options (all but ``device``) ``obj`` was built with by name, or None for an object built another
    way (its class called directly): then what it was configured with is not known."""
    options = getattr(obj, _BUILD_OPTIONS_ATTR, None)
    return None if options is None else dict(options)  # a copy: what it was built with cannot be edited


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _dist_version(dist: str) -> str:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return "unknown"


_lock = threading.Lock()
_registry: Registry | None = None


def get_registry() -> Registry:
    """The process-wide registry, discovered on first use."""
    global _registry
    with _lock:
        if _registry is None:
            _registry = Registry.discover()
        return _registry


def reset_registry() -> None:
    """Forget the discovered plugins; the next lookup discovers them again (tests, after installs)."""
    global _registry
    with _lock:
        _registry = None
