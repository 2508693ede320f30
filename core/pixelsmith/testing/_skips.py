"""Skipping tests that need another plugin's component when that plugin is not installed."""

from __future__ import annotations

from typing import Any

from ..api import spec
from ..errors import UnknownComponentError

__all__ = ["requires_component"]


def requires_component(kind: str, name: str) -> Any:
    """A pytest mark that skips a test, with the reason, unless component ``name`` of ``kind`` is
    registered (its plugin installed and loaded).

    For a test of one plugin that uses another plugin's component through the registry: the plugin
    itself must never import the other, and its tests must pass, or skip saying why, when it is
    installed alone (pixelsmith's CI installs and tests each plugin on its own).

    >>> from pixelsmith.testing import requires_component
    >>> @requires_component("restorer", "unet-denoise")       # doctest: +SKIP
    ... def test_plug_and_play_deblurring(): ...
    """
    import pytest

    try:
        spec(kind, name)
        present = True
    except UnknownComponentError:
        present = False
    return pytest.mark.skipif(not present, reason=f"needs the {kind} {name!r}, whose plugin is not installed")
