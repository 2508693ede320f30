"""Exponential moving average of model weights (the usual trick for GAN generators and restorers)."""

from __future__ import annotations

import copy

import torch

__all__ = ["EMA", "unwrap"]


class EMA:
    """Keeps ``shadow`` = decay·shadow + (1 − decay)·model after every :meth:`update`.

    Buffers (batch-norm statistics) are copied, not averaged. Warm-up uses
    ``min(decay, (1 + n) / (10 + n))`` so early EMA weights are not dominated by the random init.
    """

    def __init__(self, model: torch.nn.Module, decay: float = 0.999) -> None:
        self.decay = decay
        self.shadow = copy.deepcopy(unwrap(model)).eval().requires_grad_(False)
        self.updates = 0

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        src = unwrap(model)
        for s, p in zip(self.shadow.parameters(), src.parameters()):
            s.lerp_(p.detach(), 1 - d)
        for s, b in zip(self.shadow.buffers(), src.buffers()):
            s.copy_(b)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The network inside a DistributedDataParallel (or similar ``.module``) wrapper; itself otherwise."""
    return model.module if hasattr(model, "module") and isinstance(model.module, torch.nn.Module) else model


_unwrap = unwrap  # the former private name
