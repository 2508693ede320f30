"""Where restoration training patches come from: photographs, dead-leaves images, or a mix.

``pixelsmith train NAME --data SOURCE [--data SOURCE ...]``, each SOURCE one of

- ``photos``: scikit-image's bundled training photographs (the default; never the test split);
- ``dead-leaves``: procedural dead-leaves images generated on the fly (:mod:`pixelsmith.data.dead_leaves`);
- a folder of the user's images (write ``./dead-leaves`` for a folder that has a keyword's name).

Trainer options (``key=value``):

- ``mix=0.3,0.7``: the share of patches from each source, in ``--data`` order (default: equal);
- ``scale_aug=0.5``, ``scale_min=0.3``: the chance that a photo patch is cut from a larger window and
  downscaled (factor log-uniform in [scale_min, 1]), so textures appear at many sizes;
- ``holdout=brick,gravel``: bundled photographs left out of training (for leave-out estimates);
- ``leaves.KEY=VALUE``: dead-leaves options (``leaves.rmin=1``, ``leaves.noise=0.5``; see
  :class:`~pixelsmith.data.dead_leaves.DeadLeavesOptions`);
- ``leaves_on=device``: draw the dead leaves on the training device (a GPU) rather than the CPU, where a GPU run
  otherwise spends most of its time making patches. Other random numbers than the CPU's, so other patches than a
  CPU-drawn run with the same seed (resumed runs still see their own); the patches come back to the CPU, so
  everything after is unchanged.

Every draw comes from the step's generator, so a resumed run sees exactly the patches it would have.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, Protocol, Sequence

import torch
import torch.nn.functional as F

from ..errors import TrainingError
from ..tiling import pad_to_min_size

__all__ = ["PHOTOS", "DEAD_LEAVES", "SOURCE_KEYWORDS", "PatchSource", "PhotoPatches", "DeadLeavesPatches",
           "MixedPatches", "build_patch_source", "is_keyword_source"]

PHOTOS = "photos"
DEAD_LEAVES = "dead-leaves"
SOURCE_KEYWORDS = (PHOTOS, DEAD_LEAVES)


def is_keyword_source(value: str | Path) -> bool:
    """``photos`` and ``dead-leaves`` are keywords; anything else (``./dead-leaves`` too) is a path."""
    return str(value) in SOURCE_KEYWORDS


def _seed(rng: torch.Generator) -> int:
    return int(torch.randint(0, 2**62, (1,), generator=rng))


class PatchSource(Protocol):
    description: str

    def __call__(self, n: int, rng: torch.Generator) -> list[torch.Tensor]:
        """``n`` patches, each ``1×C×size×size`` float32 in [0, 1], drawn from ``rng``."""


class PhotoPatches:
    """Random crops from preloaded images.

    ``by="image"`` picks every image equally often (among the bundled photographs the large, mostly
    dark ``retina`` and ``hubble_deep_field`` would otherwise give half the patches); ``by="area"``
    in proportion to pixel count. With probability ``scale_aug`` a patch is cut from a window up to
    ``1/scale_min`` times larger and downscaled with antialiasing, so the same textures are seen at
    many sizes (and the photographs' own noise is averaged away in those patches).
    """

    def __init__(self, images: Sequence[torch.Tensor], size: int, *, by: str = "image",
                 scale_aug: float = 0.0, scale_min: float = 1.0, description: str = "photographs") -> None:
        if not images:
            raise TrainingError("no training images: the photo source is empty")
        if by not in ("image", "area"):
            raise TrainingError(f"sample_by must be 'image' or 'area', got {by!r}")
        if not 0 <= scale_aug <= 1 or not 0 < scale_min <= 1:
            raise TrainingError(f"scale_aug must be in [0, 1] and scale_min in (0, 1], got {scale_aug}, {scale_min}")
        self.images = [pad_to_min_size(im, size) for im in images]
        self.size = size
        self.scale_aug, self.scale_min = float(scale_aug), float(scale_min)
        areas = torch.tensor([float(im.shape[-2] * im.shape[-1]) if by == "area" else 1.0 for im in self.images])
        self.weights = areas / areas.sum()
        self.description = description + (f", scale augmentation p={scale_aug:g} down to ×{scale_min:g}"
                                          if scale_aug > 0 and scale_min < 1 else "")

    def __call__(self, n: int, rng: torch.Generator) -> list[torch.Tensor]:
        idx = torch.multinomial(self.weights, n, replacement=True, generator=rng)
        out = []
        for i in idx.tolist():
            im = self.images[i]
            h, w = im.shape[-2:]
            window = self.size
            if self.scale_aug > 0 and self.scale_min < 1 and float(torch.rand((), generator=rng)) < self.scale_aug:
                scale = math.exp(math.log(self.scale_min) * float(torch.rand((), generator=rng)))
                window = min(h, w, max(self.size, int(round(self.size / scale))))
            y = int(torch.randint(0, h - window + 1, (1,), generator=rng))
            x = int(torch.randint(0, w - window + 1, (1,), generator=rng))
            p = im[:, :, y:y + window, x:x + window]
            if window != self.size:
                p = F.interpolate(p, size=(self.size, self.size), mode="bilinear", antialias=True,
                                  align_corners=False).clamp_(0, 1)
            out.append(p)
        return out


class DeadLeavesPatches:
    """Dead-leaves images generated on the fly, one per patch, seeded from the step's generator; drawn on
    ``device`` (default the CPU) and handed back on the CPU like every other source's patches."""

    def __init__(self, size: int, channels: int, options: Mapping[str, Any] | None = None,
                 device: str | torch.device | None = None) -> None:
        from ..data.dead_leaves import describe, parse_dead_leaves_options

        self.options = parse_dead_leaves_options(options or {}, size=size, channels=channels)
        self.device = torch.device("cpu" if device is None else device)
        self.description = describe(self.options) + ("" if self.device.type == "cpu" else f" drawn on {self.device}")

    def __call__(self, n: int, rng: torch.Generator) -> list[torch.Tensor]:
        from ..data.dead_leaves import dead_leaves

        if n == 0:
            return []
        generator = torch.Generator(device=self.device).manual_seed(_seed(rng))
        return list(dead_leaves(n, self.options, generator=generator).cpu().split(1))


class MixedPatches:
    """Each patch from one of several sources, chosen with the given weights."""

    def __init__(self, sources: Sequence[PatchSource], weights: Sequence[float]) -> None:
        if len(sources) != len(weights) or not sources:
            raise TrainingError(f"mix= needs one weight per --data source ({len(sources)}), got {list(weights)}")
        w = torch.tensor([float(x) for x in weights])
        if bool((w < 0).any()) or float(w.sum()) <= 0:
            raise TrainingError(f"mix= weights must be ≥ 0 and not all 0, got {list(weights)}")
        self.sources, self.weights = list(sources), w / w.sum()
        self.description = (self.sources[0].description if len(self.sources) == 1 else
                            " + ".join(f"{float(p):.0%} {s.description}" for s, p in zip(self.sources, self.weights)))

    def __call__(self, n: int, rng: torch.Generator) -> list[torch.Tensor]:
        if len(self.sources) == 1:
            return self.sources[0](n, rng)
        which = torch.multinomial(self.weights, n, replacement=True, generator=rng).tolist()
        drawn = {i: iter(src(which.count(i), rng)) for i, src in enumerate(self.sources) if i in which}
        return [next(drawn[i]) for i in which]


def photo_images(source: str | Path, channels: int, holdout: set[str], validation: Sequence[str]
                 ) -> tuple[list[torch.Tensor], list[torch.Tensor], str]:
    """(training images, validation images, description) of the bundled photographs (minus the
    validation and held-out ones) or of a folder (its last two images validate). A ``Path`` is always
    a folder, even one named like a keyword."""
    if isinstance(source, str) and source == PHOTOS:
        from ..data.photos import TRAIN_PHOTOS, load_photo

        unknown = holdout - set(TRAIN_PHOTOS)
        if unknown:
            raise TrainingError(f"holdout= names photographs that are not training photographs: "
                                f"{', '.join(sorted(unknown))}; choose from {', '.join(TRAIN_PHOTOS)}")
        names = [n for n in TRAIN_PHOTOS if n not in validation and n not in holdout]
        if not names:
            raise TrainingError("holdout= leaves no training photographs")
        train = [load_photo(n, channels=channels) for n in names]
        val = [load_photo(n, channels=channels) for n in validation]
        text = (f"scikit-image photographs {', '.join(names)} (validation: {', '.join(validation)}"
                + (f"; held out: {', '.join(sorted(holdout))}" if holdout else "") + "; test split never used)")
        return train, val, text
    from ..data.folder import load_image_folder

    images = load_image_folder(Path(source), channels=channels)
    if len(images) >= 4:
        return images[:-2], images[-2:], f"{len(images) - 2} images from {source} (last 2 held out for validation)"
    return images, images[:1], f"{len(images)} images from {source} (too few to hold out: validating on the first)"


def build_patch_source(sources: Sequence[str | Path], extra: Mapping[str, Any], *, channels: int, size: int,
                       validation: Sequence[str], device: str | torch.device | None = None,
                       ) -> tuple[PatchSource, list[torch.Tensor], str]:
    """(patch source, validation images, description) for the ``--data`` sources and trainer options.

    Validation images come from the first photo source (the bundled ``validation`` photographs, or a
    folder's last two images); with dead leaves alone, from the bundled validation photographs.
    ``device`` is the training device, where ``leaves_on=device`` draws the dead leaves.
    """
    # strings are keywords or folders; a Path is a folder even when it is named like a keyword
    sources = [s if isinstance(s, Path) else str(s) for s in sources] or [PHOTOS]
    holdout = {h.strip() for h in str(extra.get("holdout", "")).replace(",", " ").split() if h.strip()}
    leaves_options = {k.split(".", 1)[1]: v for k, v in extra.items() if k.startswith("leaves.")}
    if leaves_options and not any(isinstance(x, str) and x == DEAD_LEAVES for x in sources):
        raise TrainingError("leaves.* options were given but no --data dead-leaves source")
    leaves_on = str(extra.get("leaves_on", "cpu"))
    if leaves_on not in ("cpu", "device"):
        raise TrainingError(f"leaves_on must be cpu or device, got {leaves_on!r}")
    leaves_device = device if leaves_on == "device" else None
    built: list[PatchSource] = []
    val: list[torch.Tensor] | None = None
    for source in sources:
        if isinstance(source, str) and source == DEAD_LEAVES:
            built.append(DeadLeavesPatches(size, channels, leaves_options, device=leaves_device))
            continue
        train, v, text = photo_images(source, channels, holdout, validation)
        built.append(PhotoPatches(train, size, by=str(extra.get("sample_by", "image")),
                                  scale_aug=float(extra.get("scale_aug", 0.0)),
                                  scale_min=float(extra.get("scale_min", 1.0)), description=text))
        if val is None:
            val = v
    if val is None:
        from ..data.photos import load_photo

        val = [load_photo(n, channels=channels) for n in validation]
    raw_mix = extra.get("mix")
    if isinstance(raw_mix, (int, float)):
        raw_mix = [raw_mix]
    if isinstance(raw_mix, str):
        raw_mix = raw_mix.replace(",", " ").split()
    try:
        weights = [float(w) for w in raw_mix] if raw_mix is not None else [1.0] * len(built)
    except (TypeError, ValueError):
        raise TrainingError(f"mix= must be numbers, one per --data source, e.g. mix=0.3,0.7; got {raw_mix!r}") from None
    mixed = MixedPatches(built, weights)
    return mixed, val, mixed.description
