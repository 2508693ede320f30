"""Fixed, realistic inputs shared by the export and golden checks: crops of the bundled test photographs,
degraded with the component's task's degradation under a fixed seed."""

from __future__ import annotations

from typing import Any, Mapping

import torch

from .. import api
from ..components import Degraded
from ..specs import RestorerSpec

__all__ = ["photo_crop", "task_degradation", "degraded_photo", "params_from_truth"]

#: Test-split photographs (never trained on) and the crop corner used for each channel count.
_PHOTOS = {1: ("camera", (160, 200)), 3: ("chelsea", (90, 150))}

def photo_crop(channels: int, height: int, width: int, *, shift: int = 0) -> torch.Tensor:
    """A ``1×C×H×W`` crop of a bundled test photograph (camera for gray, chelsea for RGB)."""
    from ..data import load_photo

    name, (top, left) = _PHOTOS[channels]
    img = load_photo(name, channels=channels)
    top, left = top + shift, left + shift
    return img[..., top:top + height, left:left + width].contiguous()


#: The degradation each task is checked with when it is registered (the project's standard ones).
_PREFERRED = {"denoise": "gaussian-noise", "deblur": "gaussian-blur", "impulse": "salt-and-pepper",
              "poisson": "poisson-noise", "inpaint": "inpainting-mask"}


def task_degradation(spec: RestorerSpec) -> str | None:
    """The degradation posing the restorer's first task: the standard one for the task, else the first
    registered one (by name), else None."""
    names = api.list_components("degradation")
    preferred = _PREFERRED.get(spec.tasks[0])
    if preferred in names:
        return preferred
    for name in names:
        if api.spec("degradation", name).task == spec.tasks[0]:
            return name
    return None


def degraded_photo(spec: RestorerSpec, channels: int, height: int, width: int, *, seed: int = 0,
                   shift: int = 0) -> tuple[torch.Tensor, Degraded, str]:
    """(clean crop, degraded crop with its info, how it was made) for a restorer's task."""
    clean = photo_crop(channels, height, width, shift=shift)
    name = task_degradation(spec)
    if name is None:
        return clean, Degraded(clean, {}), f"{_PHOTOS[channels][0]} crop, not degraded"
    degraded = api.degradation(name).apply(clean, seed=seed)
    return clean, degraded, f"{_PHOTOS[channels][0]} crop {height}×{width}, {name} (defaults), seed {seed}"


def params_from_truth(spec: RestorerSpec, truth: Mapping[str, Any]) -> dict[str, Any]:
    """The true values of the restorer's parameters that the degradation recorded: those its spec
    declares, from :attr:`Degraded.truth` (the restorers' vocabulary: noise ``sigma``, ``kernel``...)."""
    return {p: truth[p] for p in (*spec.requires, *spec.accepts) if truth.get(p) is not None}
