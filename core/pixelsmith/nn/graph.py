"""Export graphs of restorers built on :class:`~pixelsmith.nn.ResidualUNetRestorer`
(``pixelsmith export unet-denoise``, ``pixelsmith export deblur``).

Each graph does what the restorer does for one untiled pass: pad the bottom and right edges to the
network's size multiple (reflect), build the network input, add the network's residual, crop, clamp to
[0, 1]. Everything is read from the loaded network's ``model_config`` (channels, widths, unshuffle), so
new weights need no code:

- a gray network (``out_channels`` 1) restores every channel as a gray image, so one graph serves
  gray and RGB input (channels dynamic);
- a colour network (``out_channels`` 3) restores RGB jointly; a restorer that keeps both (gray for
  gray input, colour for RGB) is exported once per channel count (``channels=1`` or ``3``).

A restorer subclasses :class:`ResidualUNetGraph` (its ``forward`` builds the network input from
``self.begin(image)``) and returns ``residual_unet_graph(...)`` from its ``export_graph``.
Moved here from ``pixelsmith_unet.export``, which re-exports these names.
"""

from __future__ import annotations

import copy
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InvalidInputError
from ..export import ChannelsRequired, ExportGraph, GraphInput
from .unet import UNet

__all__ = ["ResidualUNetGraph", "network_for", "image_input", "residual_unet_graph"]


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


def image_input(channels: int | None, multiple: int) -> GraphInput:
    """The ``image`` input of a U-Net graph: B×C×H×W, batch/height/width dynamic (and the channels when
    ``channels`` is None), with an example no axis bound specialises."""
    c = channels or 3
    size = 3 * multiple  # an example that no axis bound specialises
    example = torch.rand(2, c, size, size - multiple, generator=torch.Generator().manual_seed(0))
    axes = {0: "batch", 2: "height", 3: "width"}
    if channels is None:
        axes[1] = "channels"
    return GraphInput("image", example, axes,
                      f"B×C×H×W float32 (C {'1 or 3' if channels is None else channels}), H and W ≥ {multiple}")


def residual_unet_graph(restorer: Any, module: ResidualUNetGraph, inputs: tuple, fixed: int | None, reference: Any,
                        notes: Sequence[str]) -> ExportGraph:
    """The :class:`~pixelsmith.export.ExportGraph` of a U-Net restorer's ``module``: output axes, size
    bounds, facts (size multiple, channels, padding, ``model_config``) and the notes every U-Net graph
    shares (untiled, no self-ensemble) followed by ``notes``. ``fixed``: the channel count when the
    graph takes one only (None: 1 or 3)."""
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
