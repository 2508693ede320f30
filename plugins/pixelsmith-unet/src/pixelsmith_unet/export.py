"""The export graph of ``unet-denoise`` (``pixelsmith export unet-denoise``).

The common steps (pad to the network's size multiple, per-channel reshape, residual, crop, clamp) and
the choice of network per channel count are core's :class:`pixelsmith.plugin.ResidualUNetGraph` and
:func:`pixelsmith.plugin.network_for`, shared with ``deblur``; they stay importable from here.

``unet-denoise``: the blind graph is the network's own blind mode. The default blind restore
estimates σ first (patch PCA, an eigen-decomposition ONNX has no operator for); to get that
result from the graph, estimate σ (``pixelsmith.plugin.estimate_noise_sigma``) and pass it
as the ``sigma`` input. In the ``sigma`` graph a NaN entry means "unknown" for that image.
"""

from __future__ import annotations

from typing import Any

import torch

from pixelsmith.plugin import GraphInput, ResidualUNetGraph, UNet, image_input, network_for, residual_unet_graph

__all__ = ["ResidualUNetGraph", "LevelGraph", "export_denoise", "network_for"]

# the old private names of the shared helpers, for code written against them
_image_input = image_input
_graph = residual_unet_graph


class LevelGraph(ResidualUNetGraph):
    """``unet-denoise``: (image, noise-level map, known flag) → residual; blind, or with a ``sigma`` input."""

    def __init__(self, net: UNet, per_channel: bool, with_sigma: bool, clip_input: bool = True) -> None:
        super().__init__(net, per_channel)
        self.with_sigma, self.clip_input = with_sigma, clip_input

    def forward(self, image: torch.Tensor, sigma: torch.Tensor | None = None) -> torch.Tensor:
        if self.clip_input:  # as UNetDenoiser(clip_input=True): unclipped noisy values clipped first
            image = image.clamp(0, 1)
        b, c = image.shape[0], image.shape[1]
        x = self.begin(image)
        n, hp, wp = x.shape[0], x.shape[2], x.shape[3]
        if sigma is None or not self.with_sigma:
            level = torch.zeros(n, 1, 1, 1, dtype=x.dtype, device=x.device)
            known = level
        else:
            reps = c if self.per_channel else 1
            s = sigma.to(x.dtype).reshape(b, 1).expand(b, reps).reshape(n, 1, 1, 1)
            finite = torch.isfinite(s)
            known = finite.to(x.dtype)
            level = torch.where(finite, s, torch.zeros_like(s))
        inp = torch.cat([x, level.expand(n, 1, hp, wp), known.expand(n, 1, hp, wp)], dim=1)
        return self.finish(x, inp, image)


def _as_graph_runs(restorer: Any, **changes: Any) -> Any:
    """A twin of ``restorer`` (same weights) computing what the graph computes: one network pass
    (``ensemble=1``: the graph has no self-ensemble), with ``changes`` (e.g. ``blind="network"``)."""
    from .denoise import UNetDenoiser

    options = getattr(restorer, "_options", None)
    if options is None:  # not a UNetDenoiser: the restorer itself
        return restorer
    current = {"blind": restorer.blind, "ensemble": restorer.ensemble, "clip_input": restorer.clip_input}
    if all(current.get(k) == v for k, v in {"ensemble": 1, **changes}.items()):
        return restorer
    twin = UNetDenoiser(**{**options, "blind": restorer.blind, "colour_weights": restorer._colour_source,
                           "ensemble": 1, **changes})
    twin.spec = getattr(restorer, "spec", None)
    return twin


def _network_blind(restorer: Any) -> Any:
    """The restorer as the blind graph runs it: the network's own blind mode, σ not estimated."""
    return _as_graph_runs(restorer, blind="network")


def export_denoise(restorer: Any, *, inputs: tuple[str, ...] = (), channels: int | None = None) -> Any:
    """The ``unet-denoise`` graph: ``image`` → restored, or (``image``, ``sigma``) with ``inputs=("sigma",)``."""
    net, per_channel, fixed = network_for(restorer, channels)
    with_sigma = "sigma" in inputs
    module = LevelGraph(net, per_channel, with_sigma, clip_input=getattr(restorer, "clip_input", True))
    image = image_input(fixed, module.multiple)
    ins = [image]
    if with_sigma:
        ins.append(GraphInput("sigma", torch.tensor([25 / 255, float("nan")]), {0: "batch"},
                              "B noise levels in [0, 1] units (σ/255 for 8-bit); NaN: unknown (blind)"))
    blind = _network_blind(restorer)
    single = _as_graph_runs(restorer)

    def reference(image: torch.Tensor, sigma: torch.Tensor | None = None) -> torch.Tensor:
        if sigma is None:
            return blind.restore(image)
        return torch.cat([single.restore(image[i:i + 1], sigma=float(s)) if torch.isfinite(s)
                          else blind.restore(image[i:i + 1]) for i, s in enumerate(sigma)])

    notes = ["blind graph = the network's blind mode; restore()'s default blind path first estimates σ "
             "(patch PCA, not in the graph): estimate it yourself and pass it as sigma for that result",
             "one network pass: restore() averages 4 flips/quarter turns by default (ensemble=4); "
             "average the graph over them yourself for that result"]
    from dataclasses import replace

    graph = residual_unet_graph(restorer, module, tuple(ins), fixed, reference, notes)
    return replace(graph, facts={**graph.facts, "ensemble": 1,
                                 "reproduces": "pixelsmith.restorer('unet-denoise', ensemble=1).restore()"})
