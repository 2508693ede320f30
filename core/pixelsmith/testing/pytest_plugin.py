"""pytest fixtures for plugin authors, loaded automatically through the ``pytest11`` entry point.

Kept free of heavy imports at module level: pytest loads this in every session of an environment
where pixelsmith is installed, and torch is imported only when a fixture is used.

Fixtures:

- ``pixelsmith_check(kind, target, **options)``: run the conformance kit on a registered name or an
  instance, e.g. ``pixelsmith_check("restorer", "my-denoiser")``.
- ``pixelsmith_plugins(*plugins)``: register plugin modules or objects that are not installed for
  the rest of the test (the built-in plugin stays); returns the registry.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest


@pytest.fixture
def pixelsmith_check() -> Callable[..., None]:
    """``pixelsmith_check("restorer", "my-denoiser")`` runs every conformance check on it."""
    from pixelsmith.testing import check

    return check


@pytest.fixture
def pixelsmith_plugins() -> Iterator[Callable[..., Any]]:
    """``pixelsmith_plugins(my_plugin)`` makes a not-installed plugin visible to name lookups."""
    import contextlib

    from pixelsmith.testing import registered

    with contextlib.ExitStack() as stack:
        yield lambda *plugins, discover=False: stack.enter_context(registered(*plugins, discover=discover))
