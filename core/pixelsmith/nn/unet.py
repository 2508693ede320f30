"""The residual U-Net shared by restorers (``unet-denoise``, ``deblur``): a small DRUNet-style U-Net
(residual blocks, strided-conv down, transposed-conv up, additive skips), fully convolutional, so it
runs on any size that is a multiple of ``2**levels``.

Moved here from ``pixelsmith_unet.model`` (which re-exports it): the module and parameter names, hence
the state-dict keys of every weights file and checkpoint, are unchanged."""

from __future__ import annotations

import json
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from ..weights import Field

__all__ = ["UNet", "DEFAULT_WIDTHS", "DEFAULT_UNSHUFFLE", "CONFIG_SCHEMA"]

DEFAULT_WIDTHS = (32, 64, 128, 256)
DEFAULT_UNSHUFFLE = 2


#: What a weights file's ``model_config`` metadata must hold to describe a :class:`UNet` (checked by
#: :func:`pixelsmith.weights.validate_metadata` before anything is built; the parameter budget and
#: the file's own tensors bound it further in :func:`pixelsmith.weights.build_checked`).
CONFIG_SCHEMA = {"model_config": Field(dict, fields={
    "in_channels": Field(int, low=1, high=64),
    "out_channels": Field(int, low=1, high=16),
    "widths": Field(list, items=int, low=1, high=4096, length=(1, 8)),
    "blocks": Field(int, required=False, low=1, high=64),
    "unshuffle": Field(int, required=False, low=1, high=16),
})}


class _ResBlock(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(ch, ch, 3, padding=1)
        self.conv2 = nn.Conv2d(ch, ch, 3, padding=1)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.act(self.conv1(x)))


class UNet(nn.Module):
    """``in_channels`` conditioning-stacked input -> ``out_channels`` residual.

    ``widths`` are the channel counts per scale; ``len(widths) - 1`` downsamplings, so inputs must
    be multiples of ``2 ** (len(widths) - 1)`` (the restorers pad).
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 1,
                 widths: tuple[int, ...] = DEFAULT_WIDTHS, blocks: int = 1, unshuffle: int = 1) -> None:
        super().__init__()
        self.config = {"in_channels": in_channels, "out_channels": out_channels,
                       "widths": list(widths), "blocks": blocks, "unshuffle": unshuffle}
        # FFDNet's trick: work on unshuffle×unshuffle pixel blocks (space-to-depth), so every layer
        # runs at 1/unshuffle² of the pixels: about that much faster, with a larger receptive field.
        self.unshuffle = unshuffle
        self.head = nn.Conv2d(in_channels * unshuffle**2, widths[0], 3, padding=1)
        self.down = nn.ModuleList()
        self.enc = nn.ModuleList()
        for a, b in zip(widths[:-1], widths[1:]):
            self.enc.append(nn.Sequential(*[_ResBlock(a) for _ in range(blocks)]))
            self.down.append(nn.Conv2d(a, b, 2, stride=2))
        self.mid = nn.Sequential(*[_ResBlock(widths[-1]) for _ in range(blocks)])
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for a, b in zip(reversed(widths[1:]), reversed(widths[:-1])):
            self.up.append(nn.ConvTranspose2d(a, b, 2, stride=2))
            self.dec.append(nn.Sequential(*[_ResBlock(b) for _ in range(blocks)]))
        self.tail = nn.Conv2d(widths[0], out_channels * unshuffle**2, 3, padding=1)

    @property
    def multiple(self) -> int:
        return self.unshuffle * 2 ** (len(self.config["widths"]) - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.unshuffle > 1:
            x = F.pixel_unshuffle(x, self.unshuffle)
        h = self.head(x)
        skips = []
        for enc, down in zip(self.enc, self.down):
            h = enc(h)
            skips.append(h)
            h = down(h)
        h = self.mid(h)
        for up, dec in zip(self.up, self.dec):
            h = dec(up(h) + skips.pop())
        out = self.tail(h)
        return F.pixel_shuffle(out, self.unshuffle) if self.unshuffle > 1 else out

    def deepened(self, blocks: int) -> "UNet":
        """A copy with ``blocks`` residual blocks per scale that computes exactly the same function: the
        existing blocks keep their place and weights, each added one follows them with its second
        convolution zero (an identity until trained). Growing a trained network this way (Chen, Goodfellow
        & Shlens, *Net2Net*, ICLR 2016) lets a fine-tune add capacity without starting from scratch."""
        have = int(self.config["blocks"])
        if not isinstance(blocks, int) or isinstance(blocks, bool) or blocks < have:
            raise ValueError(f"blocks must be an int ≥ the network's {have}, got {blocks!r}")
        grown = UNet.from_config({**self.config, "blocks": blocks}).to(next(self.parameters()).device)
        state = grown.state_dict()
        for name, value in self.state_dict().items():
            state[name] = value.clone()  # same names: block i < have of every stage
        for name, value in state.items():
            parts = name.split(".")  # enc.<scale>.<block>.convN.*, mid.<block>.convN.*, dec.<scale>.<block>.convN.*
            block = {"enc": 2, "dec": 2, "mid": 1}.get(parts[0])
            if block is not None and int(parts[block]) >= have and parts[block + 1] == "conv2":
                state[name] = torch.zeros_like(value)
        grown.load_state_dict(state)
        return grown

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | str) -> "UNet":
        cfg = json.loads(config) if isinstance(config, str) else dict(config)
        return cls(in_channels=int(cfg["in_channels"]), out_channels=int(cfg["out_channels"]),
                   widths=tuple(int(w) for w in cfg["widths"]), blocks=int(cfg.get("blocks", 1)),
                   unshuffle=int(cfg.get("unshuffle", 1)))
