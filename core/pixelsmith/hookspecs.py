"""The plugin contract: the hooks a pixelsmith plugin may implement.

A plugin is a module (or object) with functions decorated by :data:`hookimpl`, made known to
pixelsmith through an entry point in the ``pixelsmith`` group::

    # pyproject.toml of your distribution
    [project.entry-points.pixelsmith]
    my_plugin = "my_package.plugin"

Each hook returns a list of frozen specs (see :mod:`pixelsmith.specs`). Hooks take no
arguments today; pluggy lets an implementation take fewer arguments than its spec, so
arguments may be added later but are never removed or renamed.
"""

from __future__ import annotations

import pluggy

from .specs import DegradationSpec, GeneratorSpec, MetricSpec, RestorerSpec

__all__ = ["PROJECT_NAME", "hookspec", "hookimpl", "PixelsmithSpec"]

#: The pluggy project name and the entry-point group.
PROJECT_NAME = "pixelsmith"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
#: Decorate your hook functions with this marker.
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


class PixelsmithSpec:
    """Hook specifications. Every hook is documented with an example and covered by a test."""

    @hookspec
    def pixelsmith_register_generators(self) -> list[GeneratorSpec]:
        """Register image generators.

        Example::

            @pixelsmith.hookimpl
            def pixelsmith_register_generators():
                return [pixelsmith.GeneratorSpec(
                    name="my-gan", factory=MyGenerator, summary="My GAN on MNIST",
                    output_shape=(1, 28, 28))]

        The factory is called as ``factory(device=...)`` and must return a
        :class:`pixelsmith.Generator`.
        """

    @hookspec
    def pixelsmith_register_restorers(self) -> list[RestorerSpec]:
        """Register image restorers.

        Example::

            @pixelsmith.hookimpl
            def pixelsmith_register_restorers():
                return [pixelsmith.RestorerSpec(
                    name="my-denoiser", factory=MyDenoiser, summary="Median filter",
                    tasks=("denoise",), channels=(1, 3))]

        The factory is called as ``factory(device=...)`` and must return a
        :class:`pixelsmith.Restorer`.
        """

    @hookspec
    def pixelsmith_register_metrics(self) -> list[MetricSpec]:
        """Register quality metrics.

        Example::

            @pixelsmith.hookimpl
            def pixelsmith_register_metrics():
                return [pixelsmith.MetricSpec(
                    name="mae", factory=MeanAbsoluteError, summary="Mean absolute error",
                    higher_is_better=False, data_range=1.0)]

        The factory is called with the user's keyword options and must return a
        :class:`pixelsmith.Metric`.
        """

    @hookspec
    def pixelsmith_register_degradations(self) -> list[DegradationSpec]:
        """Register seeded image degradations.

        Example::

            @pixelsmith.hookimpl
            def pixelsmith_register_degradations():
                return [pixelsmith.DegradationSpec(
                    name="jpeg", factory=JpegArtifacts, summary="JPEG compression",
                    task="generic", params={"quality": 30})]

        The factory is called with the user's keyword parameters and must return a
        :class:`pixelsmith.Degradation`.
        """
