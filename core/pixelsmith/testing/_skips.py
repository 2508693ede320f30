"""Tests that need another plugin's component: marked, and skipped when that plugin is not installed."""

from __future__ import annotations

from typing import Any

from ..api import spec
from ..errors import UnknownComponentError

__all__ = ["requires_component", "missing_component"]

#: The pytest marker :func:`requires_component` puts on a test (registered by pixelsmith's pytest plugin).
MARKER = "pixelsmith_requires"


def missing_component(kind: str, name: str) -> str | None:
    """Why a test that needs component ``name`` of ``kind`` cannot run, or None when it is registered."""
    try:
        spec(kind, name)
    except UnknownComponentError:
        return f"needs the {kind} {name!r}, whose plugin is not installed"
    return None


def requires_component(kind: str, name: str) -> Any:
    """A pytest mark for a test that uses another plugin's component (through the registry): the test
    is skipped, with the reason, unless component ``name`` of ``kind`` is registered.

    A plugin must never import another plugin, and its tests must pass, or skip saying why, when it
    is installed alone (pixelsmith's CI tests each plugin on its own, and reruns the tests carrying
    this mark, ``pixelsmith_requires``, with every plugin installed).

    >>> from pixelsmith.testing import requires_component
    >>> @requires_component("restorer", "unet-denoise")       # doctest: +SKIP
    ... def test_plug_and_play_deblurring(): ...
    """
    import pytest

    return getattr(pytest.mark, MARKER)(kind, name)
