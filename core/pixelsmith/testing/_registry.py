"""Registering plugins that are not installed, for tests."""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

from ..registry import Registry

__all__ = ["registered"]


@contextlib.contextmanager
def registered(*plugins: Any, discover: bool = False) -> Iterator[Registry]:
    """Make ``plugins`` (modules or objects with hook implementations) the process registry's plugins.

    The built-in plugin is always there; with ``discover=True`` the installed plugins too. The
    previous registry is restored on exit, so tests do not leak into one another
    (:meth:`pixelsmith.registry.Registry.activate`).

    >>> import my_plugin                                   # doctest: +SKIP
    >>> with registered(my_plugin):                        # doctest: +SKIP
    ...     check_restorer("my-denoiser")
    """
    registry = Registry.discover(entry_points=None if discover else [])
    for i, plugin in enumerate(plugins):
        name = getattr(plugin, "__name__", None) or f"{type(plugin).__name__}-{i}"
        registry.add_plugin(plugin, name=name, distribution=name, version="test")
    with registry.activate():
        yield registry
