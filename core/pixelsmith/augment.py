"""Augmentation: Kornia presets applied identically to clean/degraded pairs, and DiffAugment for GANs.

Paired presets (restoration training) must transform a clean image and its degraded copy with
the *same* random parameters, or the pair stops matching pixel for pixel. Kornia's
:class:`~kornia.augmentation.AugmentationSequential` does that for several inputs in one call;
its parameters come from the global RNG, so a seeded call runs inside
:func:`torch.random.fork_rng` and leaves the caller's RNG state exactly as it found it.

>>> import torch
>>> clean = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
>>> noisy = (clean + 0.1).clamp(0, 1)
>>> a, b = paired_augment(clean, noisy, preset="geometric", seed=1)
>>> torch.equal(a, paired_augment(clean, noisy, preset="geometric", seed=1)[0])
True
"""

from __future__ import annotations

import functools
from typing import Callable

import kornia.augmentation as K
import torch
import torch.nn.functional as F

from .components import make_generator
from .errors import InvalidInputError
from .tensors import as_image_batch

__all__ = ["PAIRED_PRESETS", "DIFF_AUGMENT_OPS", "PairedAugmentation", "paired_preset", "paired_augment",
           "diff_augment"]

#: Names accepted by :func:`paired_preset`; ``+`` combines them, geometric first.
PAIRED_PRESETS = ("geometric", "photometric", "geometric+photometric")


def _seed_int(seed: int | torch.Generator | None) -> int:
    # A generator gives its next draw, so a generator passed to successive calls gives a
    # reproducible sequence of different augmentations.
    gen = make_generator(seed)
    return int(torch.randint(0, 2**62, (), generator=gen))


class PairedAugmentation:
    """A Kornia pipeline applied with identical random parameters to ``clean`` and ``degraded``.

    Call it as ``clean_aug, degraded_aug = paired(clean, degraded, seed=0)``; the two batches
    must share batch size and spatial size (channels may differ). Output stays on the inputs'
    device. Same seed, same bytes; the global RNG state is unchanged afterwards.
    """

    def __init__(self, name: str, pipeline: K.AugmentationSequential, crop_size: int | None) -> None:
        self.name = name
        self.pipeline = pipeline
        self.crop_size = crop_size

    def __repr__(self) -> str:
        return f"PairedAugmentation({self.name!r}, crop_size={self.crop_size})"

    def __call__(self, clean: torch.Tensor, degraded: torch.Tensor,
                 seed: int | torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        clean_t = as_image_batch(clean, name="clean")
        # degraded data may leave [0, 1] (unclipped noise); only the clean side must be an image
        degraded_t = as_image_batch(degraded, name="degraded", device=clean_t.device, any_range=True)
        if clean_t.shape[0] != degraded_t.shape[0] or clean_t.shape[2:] != degraded_t.shape[2:]:
            raise InvalidInputError(
                f"clean and degraded must share batch and spatial size, got {tuple(clean_t.shape)} and "
                f"{tuple(degraded_t.shape)}"
            )
        if self.crop_size is not None and min(clean_t.shape[2:]) < self.crop_size:
            raise InvalidInputError(
                f"crop_size {self.crop_size} is larger than the images ({clean_t.shape[2]}×{clean_t.shape[3]}); "
                "use a smaller crop_size or larger images"
            )
        device = clean_t.device
        cuda = [device.index if device.index is not None else torch.cuda.current_device()] \
            if device.type == "cuda" else []
        seed_value = _seed_int(seed)
        with torch.random.fork_rng(devices=cuda):
            torch.random.default_generator.manual_seed(seed_value)
            if cuda:
                torch.cuda.manual_seed(seed_value)
            out_clean, out_degraded = self.pipeline(clean_t, degraded_t)
        # the degraded side keeps its own range: clamping it to [0, 1] would turn unclipped noise (the
        # literature's protocol, ``unclipped=`` of the restoration trainer) back into clipped noise
        low, high = min(0.0, float(degraded_t.min())), max(1.0, float(degraded_t.max()))
        return out_clean.clamp(0, 1), out_degraded.clamp(low, high)


def _geometric(crop_size: int | None) -> list[K.AugmentationBase2D]:
    ops: list[K.AugmentationBase2D] = [
        K.RandomHorizontalFlip(p=0.5),
        K.RandomVerticalFlip(p=0.5),
        # Nearest resampling: a quarter turn moves pixels exactly, no interpolation blur.
        K.RandomRotation90(times=(0, 3), resample="nearest", p=1.0),
    ]
    if crop_size is not None:
        ops.append(K.RandomCrop((crop_size, crop_size)))
    return ops


def _photometric(brightness: float, contrast: float) -> list[K.AugmentationBase2D]:
    return [K.ColorJiggle(brightness=brightness, contrast=contrast, p=1.0)]


def paired_preset(name: str = "geometric", *, crop_size: int | None = None, brightness: float = 0.1,
                  contrast: float = 0.1) -> PairedAugmentation:
    """A paired augmentation pipeline by name (see :data:`PAIRED_PRESETS`).

    ``geometric``: random horizontal/vertical flips and a random multiple of 90° rotation
    (lossless on square images; non-square images keep their size and lose the corners), then a
    random ``crop_size×crop_size`` crop when ``crop_size`` is given. ``photometric``: random
    brightness and contrast factors (±``brightness``, ±``contrast``).
    """
    if name not in PAIRED_PRESETS:
        raise InvalidInputError(f"unknown paired preset {name!r}; choose one of {PAIRED_PRESETS}")
    if crop_size is not None and (isinstance(crop_size, bool) or not isinstance(crop_size, int) or crop_size < 1):
        raise InvalidInputError(f"crop_size must be a positive int or None, got {crop_size!r}")
    for label, value in (("brightness", brightness), ("contrast", contrast)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
            raise InvalidInputError(f"{label} must be a number in [0, 1), got {value!r}")
    ops: list[K.AugmentationBase2D] = []
    if "geometric" in name:
        ops += _geometric(crop_size)
    if "photometric" in name:
        ops += _photometric(float(brightness), float(contrast))
    return PairedAugmentation(name, K.AugmentationSequential(*ops, data_keys=["input", "input"]), crop_size)


@functools.lru_cache(maxsize=32)
def _cached_preset(name: str, crop_size: int | None) -> PairedAugmentation:
    return paired_preset(name, crop_size=crop_size)


def paired_augment(clean: torch.Tensor, degraded: torch.Tensor, *, preset: str = "geometric",
                   seed: int | torch.Generator | None = None,
                   crop_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Augment a clean/degraded pair identically with a named preset; see :func:`paired_preset`."""
    if preset not in PAIRED_PRESETS:
        raise InvalidInputError(f"unknown paired preset {preset!r}; choose one of {PAIRED_PRESETS}")
    return _cached_preset(preset, crop_size)(clean, degraded, seed=seed)


# ---- DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training")


def _uniform(shape: tuple[int, ...], gen: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    return torch.rand(shape, generator=gen).to(like.device, like.dtype)


def _brightness(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    return x + (_uniform((x.shape[0], 1, 1, 1), gen, x) - 0.5)


def _saturation(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (_uniform((x.shape[0], 1, 1, 1), gen, x) * 2) + mean


def _contrast(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_uniform((x.shape[0], 1, 1, 1), gen, x) + 0.5) + mean


def _color(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    return _contrast(_saturation(_brightness(x, gen), gen), gen)


def _translation(x: torch.Tensor, gen: torch.Generator, ratio: float = 0.125) -> torch.Tensor:
    b, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ty = torch.randint(-sh, sh + 1, (b, 1, 1), generator=gen).to(x.device)
    tx = torch.randint(-sw, sw + 1, (b, 1, 1), generator=gen).to(x.device)
    gb, gy, gx = torch.meshgrid(torch.arange(b, device=x.device), torch.arange(h, device=x.device),
                                torch.arange(w, device=x.device), indexing="ij")
    # Index into a 1-pixel zero border: shifted-out content becomes zeros, as in the paper.
    gy = (gy + ty + 1).clamp(0, h + 1)
    gx = (gx + tx + 1).clamp(0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1]).permute(0, 2, 3, 1)
    return padded[gb, gy, gx].permute(0, 3, 1, 2).contiguous()


def _cutout(x: torch.Tensor, gen: torch.Generator, ratio: float = 0.5) -> torch.Tensor:
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    oy = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), generator=gen).to(x.device)
    ox = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), generator=gen).to(x.device)
    gb, gy, gx = torch.meshgrid(torch.arange(b, device=x.device), torch.arange(ch, device=x.device),
                                torch.arange(cw, device=x.device), indexing="ij")
    gy = (gy + oy - ch // 2).clamp(0, h - 1)
    gx = (gx + ox - cw // 2).clamp(0, w - 1)
    mask = torch.ones(b, h, w, dtype=x.dtype, device=x.device)
    mask[gb, gy, gx] = 0
    return x * mask.unsqueeze(1)


#: The DiffAugment operations by policy name.
DIFF_AUGMENT_OPS: dict[str, Callable[[torch.Tensor, torch.Generator], torch.Tensor]] = {
    "color": _color,
    "translation": _translation,
    "cutout": _cutout,
}


def diff_augment(x: torch.Tensor, policy: str = "color,translation,cutout", *,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """DiffAugment: random colour, translation and cutout that gradients flow through.

    Apply the same call to real and generated images before the discriminator (each call draws
    its own parameters). ``policy`` is a comma-separated subset of ``color`` (brightness ±0.5,
    saturation ×[0, 2], contrast ×[0.5, 1.5]), ``translation`` (up to 1/8 of the side, zero
    fill) and ``cutout`` (a zeroed square of half the side); ``""`` returns ``x`` unchanged.
    Output is not clipped (clipping would stop gradients) and works for [0, 1] or [-1, 1] data.
    Random draws come from ``generator`` (a CPU ``torch.Generator``; fresh OS entropy when
    None) and never from the global RNG.

    >>> x = torch.rand(4, 3, 16, 16, requires_grad=True)
    >>> diff_augment(x, generator=torch.Generator().manual_seed(0)).sum().backward()
    >>> x.grad.shape
    torch.Size([4, 3, 16, 16])
    """
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or not x.is_floating_point():
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise InvalidInputError(f"diff_augment expects a float B×C×H×W tensor, got {got}")
    if not isinstance(policy, str):
        raise InvalidInputError(f"policy must be a comma-separated string, got {policy!r}")
    names = [p.strip() for p in policy.split(",") if p.strip()]
    unknown = [n for n in names if n not in DIFF_AUGMENT_OPS]
    if unknown:
        raise InvalidInputError(f"unknown DiffAugment policy {unknown}; use a subset of {sorted(DIFF_AUGMENT_OPS)}")
    if generator is not None and (not isinstance(generator, torch.Generator) or generator.device.type != "cpu"):
        raise InvalidInputError("generator must be a CPU torch.Generator (draws are moved to x's device)")
    gen = make_generator(generator)
    for name in names:
        x = DIFF_AUGMENT_OPS[name](x, gen)
    return x
