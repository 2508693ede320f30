"""A restorer around a residual U-Net: padding, colour handling, tiling, autocast.

A network has ``model_channels`` image channels (its config's ``out_channels``). A gray network
(1) restores colour images channel by channel (each channel one gray image in the batch); a colour
network (3) restores RGB jointly, using the correlation between channels. A subclass may offer both
(``unet-denoise`` keeps a gray and a colour network).

Memory: subclasses whose network input is a per-pixel stack of the image and per-image values
(``local_prepare = True``: a noise-level map, a flag) build that stack tile by tile, so the peak is
set by the tile size, not the image size.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, ClassVar

import torch

from ..components import Restorer
from ..errors import InvalidInputError
from ..specs import WeightsFile
from ..tiling import pad_to_multiple, tiled_apply
from ..weights import build_checked, load_into, load_weights, packaged_weights, read_metadata, validate_metadata
from .unet import CONFIG_SCHEMA, UNet

__all__ = ["ResidualUNetRestorer", "per_image", "packaged_weights"]

#: (quarter turns, horizontal flip) of the self-ensemble, in the order ``ensemble=n`` takes the first n:
#: 2 = identity and a half turn of the flipped image, 4 adds the two quarter turns.
_DIHEDRAL = ((0, False), (2, True), (1, False), (3, True), (0, True), (2, False), (1, True), (3, False))


class ResidualUNetRestorer(Restorer):
    """Runs ``x_c + unet(prepare(x_c, ...))`` on every channel ``x_c`` of the input.

    ``tile``/``overlap``: images larger than ``tile`` are processed in overlapping tiles (bounded
    memory; seamless blend). ``batch_size``: images per network call. On CUDA the network runs
    channels-last under bf16 autocast (``precision="fp32"`` turns that off). ``ensemble`` (1, 2, 4
    or 8): geometric self-ensemble, the average of the network over that many flips/quarter turns
    of its input (Lim et al. 2017's "+" models); ``ensemble`` times slower, a little better.
    """

    weights_file: ClassVar[WeightsFile | None] = None
    #: True when :meth:`conditioning` + :meth:`stack` replace :meth:`prepare` (per-tile network input)
    local_prepare: ClassVar[bool] = False

    def __init__(self, device: str | torch.device | None = None, *, weights: str | Path | None = None,
                 tile: int = 512, overlap: int = 192, batch_size: int = 8, precision: str = "auto",
                 ensemble: int = 1) -> None:
        super().__init__(device)
        source = weights if weights is not None else self.weights_file
        if source is None:
            raise InvalidInputError(f"{type(self).__name__} has no weights file; pass weights=PATH")
        path = source.path if isinstance(source, WeightsFile) else Path(source)
        meta = read_metadata(path)
        # the metadata describes the network: checked against a schema, then built on the meta device
        # against a parameter budget and the file's tensors, before any memory is taken
        config = validate_metadata(path, meta, CONFIG_SCHEMA)["model_config"]
        self.metadata = meta
        state = load_weights(source)  # a WeightsFile is checked against its sha256
        self.model = build_checked(lambda: UNet.from_config(config), path=path, state=state)
        load_into(self.model, {k: v.float() for k, v in state.items()}, source=str(path))
        self.model.eval().requires_grad_(False).to(self.device)
        self.multiple = self.model.multiple
        if tile % self.multiple:
            raise InvalidInputError(f"tile must be a multiple of {self.multiple}, got {tile}")
        self.tile, self.overlap, self.batch_size = tile, overlap, batch_size
        if precision not in ("auto", "fp32", "bf16", "fp16"):
            raise InvalidInputError(f"precision must be auto, fp32, bf16 or fp16, got {precision!r}")
        self.precision = precision
        if ensemble not in (1, 2, 4, 8):
            raise InvalidInputError(f"ensemble must be 1, 2, 4 or 8 (flips/quarter turns averaged), got {ensemble!r}")
        self.ensemble = ensemble
        # channels-last on every device: oneDNN's CPU convolutions are faster on it too (one thread, 256², session 31:
        # the colour network 0.178 → 0.112 s, the gray one 0.031 → 0.025 s; outputs equal to ~2e-6)
        self.model.to(memory_format=torch.channels_last)

    @property
    def model_channels(self) -> int:
        """Image channels the network restores at once (1: gray, channel by channel; 3: RGB jointly)."""
        return int(self.model.config.get("out_channels", 1))

    # -- hooks for subclasses ----------------------------------------------------------------------
    def prepare(self, x: torch.Tensor, **params: Any) -> torch.Tensor:
        """Network input for a batch ``x`` (B×model_channels×H×W) and the restore() parameters."""
        raise NotImplementedError

    def conditioning(self, x: torch.Tensor, *, channels: int = 1, **params: Any) -> torch.Tensor:
        """``local_prepare`` subclasses: one value per image of ``x`` (e.g. the noise level), from the
        whole image and the restore() parameters; :meth:`stack` gets the tile's share of it."""
        raise NotImplementedError

    def stack(self, tile: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """``local_prepare`` subclasses: the network input of one tile and its images' values."""
        raise NotImplementedError

    # -- machinery -----------------------------------------------------------------------------------
    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.device.type != "cuda" or self.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.float16 if self.precision == "fp16" else torch.bfloat16
        return torch.autocast("cuda", dtype=dtype)

    def _net(self, inp: torch.Tensor) -> torch.Tensor:
        inp = inp.contiguous(memory_format=torch.channels_last)
        with self._autocast():
            out = self.model(inp)
        return (inp[:, :self.model_channels] + out.float()).float()

    def run_network(self, inp: torch.Tensor, values: torch.Tensor | None = None) -> torch.Tensor:
        """Network on a padded batch, averaged over ``self.ensemble`` flips/quarter turns.

        ``inp`` is the prepared stack, or with ``values`` (``local_prepare``) the raw image, stacked
        tile by tile. Every input channel is a per-pixel map (image, level, flag, Wiener estimate,
        mask), so turning the whole stack is the same as preparing the turned image.
        """
        if self.ensemble == 1:
            return self._run_once(inp, values)
        total = torch.zeros(inp.shape[0], self.model_channels, *inp.shape[-2:], dtype=torch.float32,
                            device=inp.device)
        for turns, flip in _DIHEDRAL[:self.ensemble]:
            t = inp.flip(-1) if flip else inp
            out = self._run_once(torch.rot90(t, turns, dims=(-2, -1)), values)
            out = torch.rot90(out, -turns, dims=(-2, -1))
            total += out.flip(-1) if flip else out
        return total / self.ensemble

    def _run_once(self, inp: torch.Tensor, values: torch.Tensor | None = None) -> torch.Tensor:
        """Network on a padded batch: tiled when larger than a tile, in chunks of batch_size."""
        chunks = []
        for start in range(0, inp.shape[0], self.batch_size):
            part = inp[start:start + self.batch_size]
            if values is None:
                fn = self._net
            else:
                vals = values[start:start + self.batch_size]
                def fn(tile: torch.Tensor, vals: torch.Tensor = vals) -> torch.Tensor:
                    return self._net(self.stack(tile, vals))
            chunks.append(tiled_apply(fn, part, self.tile, self.overlap, align=self.multiple))
        return torch.cat(chunks)

    def _restore(self, x: torch.Tensor, **params: Any) -> torch.Tensor:
        with torch.inference_mode():
            out = self._infer(x, **params)
        return out.clone()  # a normal tensor: callers may modify it in place outside inference mode

    def _infer(self, x: torch.Tensor, **params: Any) -> torch.Tensor:
        b, c, h, w = x.shape
        # a gray network sees every channel as a gray image; a colour network sees RGB as it is
        per_channel = c != self.model_channels
        if per_channel and self.model_channels != 1:
            raise InvalidInputError(f"{self.name}'s network restores {self.model_channels}-channel images, got {c}")
        batch = x.reshape(b * c, 1, h, w) if per_channel else x
        channels = c if per_channel else 1
        padded, _ = pad_to_multiple(batch, self.multiple)
        if self.local_prepare:
            values = self.conditioning(padded, channels=channels, **params)
            out = self.run_network(padded, values)[..., :h, :w]
        else:
            out = self.run_network(self.prepare(padded, channels=channels, **params))[..., :h, :w]
        return out.reshape(b, c, h, w).clamp_(0, 1)


def per_image(value: Any, b: int, c: int, name: str) -> torch.Tensor:
    """A scalar or per-image value (length B) as a tensor of length B·C (one entry per gray channel)."""
    t = torch.as_tensor(value, dtype=torch.float32).flatten()
    if t.numel() == 1:
        t = t.expand(b)
    if t.numel() != b:
        raise InvalidInputError(f"{name} must be one number or one per image ({b}), got {t.numel()} values")
    if not bool(torch.isfinite(t).all()) or bool((t < 0).any()):
        raise InvalidInputError(f"{name} must be finite and ≥ 0, got {t.tolist()}")
    return t.repeat_interleave(c)

