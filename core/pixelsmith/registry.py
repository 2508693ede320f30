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
"""

from __future__ import annotations

import difflib
import importlib.metadata as md
import os
import threading
from dataclasses import dataclass, field
from typing import Any, Iterable

import pluggy

from . import hookspecs
from .errors import PluginConflictError, PluginError, UnknownComponentError
from .specs import (
    ComponentSpec,
    DegradationSpec,
    GeneratorSpec,
    MetricSpec,
    RestorerSpec,
    normalize_name,
    validate_spec,
)

__all__ = ["Registry", "PluginInfo", "PluginFailure", "get_registry", "reset_registry", "KINDS"]

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
        pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        pm.add_hookspecs(hookspecs.PixelsmithSpec)
        try:
            pm.register(plugin, name=name)
        except Exception as exc:  # noqa: BLE001 - e.g. a hookimpl with an unknown argument
            self._fail(PluginFailure(name, distribution, version, "register", _describe(exc)))
            return None
        found: list[tuple[str, ComponentSpec]] = []
        for kind, (hook_name, spec_cls) in KINDS.items():
            caller = getattr(pm.hook, hook_name)
            if not caller.get_hookimpls():
                continue
            try:
                results = caller()
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
