"""Export graphs of the U-Net restorers (``pixelsmith export unet-denoise``; ``deblur`` builds on them).

Each graph does what :class:`~pixelsmith_unet.restorer.ResidualUNetRestorer` does for one untiled
pass: pad the bottom and right edges to the network's size multiple (reflect), build the network
input, add the network's residual, crop, clamp to [0, 1]. Everything is read from the loaded
network's ``model_config`` (channels, widths, unshuffle), so new weights need no code here:

- a gray network (``out_channels`` 1) restores every channel as a gray image, so one graph serves
  gray and RGB input (channels dynamic);
- a colour network (``out_channels`` 3) restores RGB jointly; a restorer that keeps both (gray for
  gray input, colour for RGB) is exported once per channel count (``channels=1`` or ``3``).

``unet-denoise``: the blind graph is the network's own blind mode. The default blind restore
estimates σ first (patch PCA, an eigen-decomposition ONNX has no operator for); to get that
result from the graph, estimate σ (``pixelsmith.noise_level.estimate_noise_sigma``) and pass it
as the ``sigma`` input. In the ``sigma`` graph a NaN entry means "unknown" for that image.
"""

from __future__ import annotations

import copy
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from pixelsmith import InvalidInputError

from .model import UNet

__all__ = ["ResidualUNetGraph", "LevelGraph", "export_denoise", "network_for"]


class ResidualUNetGraph(nn.Module):
    """Common steps: pad to the size multiple, per-channel reshape, residual, crop, clamp.

    Subclasses build the network input in ``forward`` from ``self.begin(image)``'s padded batch.
    """

    def __init__(self, net: UNet, per_channel: bool) -> None:
        super().__init__()
        self.net = copy.deepcopy(net).cpu().float().eval().requires_grad_(False)
        self.per_channel = per_channel
        self.multiple = int(net.multiple)
        self.out_channels = int(net.config["out_channels"])

    def begin(self, image: torch.Tensor) -> torch.Tensor:
        """The batch the network restores: channels as gray images (per-channel), padded (reflect)."""
        b, c, h, w = image.shape
        x = image.reshape(b * c, 1, h, w) if self.per_channel else image
        m = self.multiple
        return F.pad(x, [0, (m - w % m) % m, 0, (m - h % m) % m], mode="reflect")

    def finish(self, base: torch.Tensor, inp: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """``base`` + the network's residual for ``inp``, cropped back to ``image``'s shape, in [0, 1]."""
        b, c, h, w = image.shape
        out = base + self.net(inp)
        return out[:, :, :h, :w].reshape(b, c, h, w).clamp(0, 1)


class LevelGraph(ResidualUNetGraph):
    """``unet-denoise``: (image, noise-level map, known flag) → residual; blind, or with a ``sigma`` input."""

    def __init__(self, net: UNet, per_channel: bool, with_sigma: bool) -> None:
        super().__init__(net, per_channel)
        self.with_sigma = with_sigma

    def forward(self, image: torch.Tensor, sigma: torch.Tensor | None = None) -> torch.Tensor:
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


# -- which network, which shapes ---------------------------------------------------------------------
def network_for(restorer: Any, channels: int | None) -> tuple[UNet, bool, int | None]:
    """(network, per-channel?, fixed channel count or None) for exporting ``restorer`` at ``channels``.

    A restorer that routes RGB to a separate colour network (``_colour_network()``) gets one graph
    per channel count; otherwise its network decides: gray restores any channel count channel by
    channel, colour takes RGB only.
    """
    net: UNet = restorer.model
    own = int(net.config["out_channels"])
    colour = getattr(restorer, "_colour_network", None)
    colour = colour() if callable(colour) else None
    if colour is not None and own == 1:
        if channels is None:
            from pixelsmith.export import ChannelsRequired

            raise ChannelsRequired(f"{restorer.name} restores gray and RGB images with different networks; "
                                   "export each with channels=1 (--channels 1) and channels=3 (--channels 3)")
        if channels == 3:
            return colour.model, False, 3
        return net, True, 1
    if own == 3:
        if channels not in (None, 3):
            raise InvalidInputError(f"{restorer.name}'s network restores RGB images only, not {channels} channels")
        return net, False, 3
    return net, True, channels


def _image_input(channels: int | None, multiple: int) -> Any:
    from pixelsmith.export import GraphInput

    c = channels or 3
    size = 3 * multiple  # an example that no axis bound specialises
    example = torch.rand(2, c, size, size - multiple, generator=torch.Generator().manual_seed(0))
    axes = {0: "batch", 2: "height", 3: "width"}
    if channels is None:
        axes[1] = "channels"
    return GraphInput("image", example, axes,
                      f"B×C×H×W float32 (C {'1 or 3' if channels is None else channels}), H and W ≥ {multiple}")


def _graph(restorer: Any, module: ResidualUNetGraph, inputs: tuple, fixed: int | None, reference: Any,
           notes: Sequence[str]) -> Any:
    from pixelsmith.export import ExportGraph

    m = module.multiple
    return ExportGraph(
        module=module, inputs=inputs, reference=reference, output="restored",
        output_axes={0: "batch", 1: "channels", 2: "height", 3: "width"} if fixed is None
        else {0: "batch", 2: "height", 3: "width"},
        bounds={"height": (m, None), "width": (m, None)},
        facts={"size_multiple": m, "min_size": m, "channels": [fixed] if fixed else [1, 3],
               "padding": f"reflect on the bottom and right edges to a multiple of {m}, inside the graph",
               "model_config": dict(module.net.config)},
        notes=("untiled: the graph runs the whole image at once (the PyTorch restorer tiles images larger "
               f"than {getattr(restorer, 'tile', 512)}²); memory grows with the image",
               "no geometric self-ensemble (ensemble=1)", *notes),
    )


def _network_blind(restorer: Any) -> Any:
    """The restorer as the blind graph runs it: the network's own blind mode, σ not estimated."""
    if getattr(restorer, "blind", "network") == "network":
        return restorer
    import pixelsmith

    return pixelsmith.restorer(restorer.name, device="cpu", blind="network")


def export_denoise(restorer: Any, *, inputs: tuple[str, ...] = (), channels: int | None = None) -> Any:
    """The ``unet-denoise`` graph: ``image`` → restored, or (``image``, ``sigma``) with ``inputs=("sigma",)``."""
    from pixelsmith.export import GraphInput

    net, per_channel, fixed = network_for(restorer, channels)
    with_sigma = "sigma" in inputs
    module = LevelGraph(net, per_channel, with_sigma)
    image = _image_input(fixed, module.multiple)
    ins = [image]
    if with_sigma:
        ins.append(GraphInput("sigma", torch.tensor([25 / 255, float("nan")]), {0: "batch"},
                              "B noise levels in [0, 1] units (σ/255 for 8-bit); NaN: unknown (blind)"))
    blind = _network_blind(restorer)

    def reference(image: torch.Tensor, sigma: torch.Tensor | None = None) -> torch.Tensor:
        if sigma is None:
            return blind.restore(image)
        return torch.cat([restorer.restore(image[i:i + 1], sigma=float(s)) if torch.isfinite(s)
                          else blind.restore(image[i:i + 1]) for i, s in enumerate(sigma)])

    notes = ["blind graph = the network's blind mode; restore()'s default blind path first estimates σ "
             "(patch PCA, not in the graph): estimate it yourself and pass it as sigma for that result"]
    return _graph(restorer, module, tuple(ins), fixed, reference, notes)
