"""Registering plugins that are not installed, for tests."""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

from .. import registry as _registry_module
from ..registry import Registry

__all__ = ["registered"]


@contextlib.contextmanager
def registered(*plugins: Any, discover: bool = False) -> Iterator[Registry]:
    """Make ``plugins`` (modules or objects with hook implementations) the process registry's plugins.

    The built-in plugin is always there; with ``discover=True`` the installed plugins too. The
    previous registry is restored on exit, so tests do not leak into one another.

    >>> import my_plugin                                   # doctest: +SKIP
    >>> with registered(my_plugin):                        # doctest: +SKIP
    ...     check_restorer("my-denoiser")
    """
    registry = Registry.discover(entry_points=None if discover else [])
    for i, plugin in enumerate(plugins):
        name = getattr(plugin, "__name__", None) or f"{type(plugin).__name__}-{i}"
        registry.add_plugin(plugin, name=name, distribution=name, version="test")
    with _registry_module._lock:
        previous = _registry_module._registry
        _registry_module._registry = registry
    try:
        yield registry
    finally:
        with _registry_module._lock:
            _registry_module._registry = previous
