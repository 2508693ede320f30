"""``check_resume``: a trainer stopped and resumed must end exactly where an uninterrupted run ends."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import torch

from ..training.checkpoint import latest_checkpoint, load_checkpoint
from ..training.config import TrainConfig
from ._checks import ConformanceError

__all__ = ["check_resume"]


def check_resume(train: Callable[[TrainConfig], Any], config: TrainConfig, *, split: int | None = None) -> Path:
    """Run ``train`` for ``config.steps`` in ``config.out/straight``, and for ``split`` steps (default half)
    then ``--resume`` to ``config.steps`` in ``config.out/split``; every tensor of the two final
    checkpoints (weights, EMA, optimizer state) must be equal. Returns the straight run's folder.

    Pin any schedule that depends on ``--steps`` (e.g. ``schedule_steps=`` in ``config.extra``), or the
    shorter first leg follows another learning-rate curve.
    """
    split = split if split is not None else max(1, config.steps // 2)
    if not 0 < split < config.steps:
        raise ValueError(f"split must lie between 0 and steps ({config.steps}), got {split}")
    straight, parted = Path(config.out) / "straight", Path(config.out) / "split"
    train(replace(config, out=straight, resume=False))
    train(replace(config, out=parted, steps=split, resume=False))
    train(replace(config, out=parted, resume=True))
    ends = []
    for folder in (straight, parted):
        path = latest_checkpoint(folder)
        if path is None:
            raise ConformanceError(f"the trainer wrote no checkpoint in {folder}")
        ends.append(load_checkpoint(path))
    a, b = ends
    if a.step != config.steps or b.step != config.steps:
        raise ConformanceError(f"final checkpoints are at steps {a.step} and {b.step}, expected {config.steps}")
    if a.tensors.keys() != b.tensors.keys():
        raise ConformanceError(f"the resumed run saved other tensors: {sorted(set(a.tensors) ^ set(b.tensors))}")
    differ = [k for k in a.tensors if not torch.equal(a.tensors[k], b.tensors[k])]
    if differ:
        raise ConformanceError(f"resuming at step {split} changed {len(differ)} of {len(a.tensors)} tensors, "
                               f"e.g. {differ[:5]}: the trainer's randomness or state is not restored exactly")
    return straight
