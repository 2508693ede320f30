"""One network trained with Adam and an EMA copy, resumable: the state every restoration-style trainer keeps."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import torch
from torch import nn

from .ema import EMA
from .session import TrainingSession

__all__ = ["Trainee"]


@dataclass
class Trainee:
    base: nn.Module                 # the network itself (what gets saved)
    model: nn.Module                # ``base`` as the session runs it (DistributedDataParallel under torchrun)
    ema: EMA
    opt: torch.optim.Optimizer
    start: int                      # the step to continue from; 0 for a fresh run

    @classmethod
    def prepare(cls, session: TrainingSession, base: nn.Module, *, lr: float, ema_decay: float) -> "Trainee":
        """Wrap ``base`` for the session, make its EMA and Adam, and load the latest checkpoint on ``--resume``."""
        ema = EMA(base, decay=ema_decay)
        model = session.wrap(base)
        ema.shadow.to(session.device)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        start = 0
        ckpt = session.resume_checkpoint()
        if ckpt is not None:
            ckpt.load_module("model", base)
            ckpt.load_module("ema", ema.shadow)
            ckpt.load_optimizer("adam", opt)
            ema.updates = int(ckpt.metadata.get("ema_updates", ckpt.step))
            start = ckpt.step
        return cls(base, model, ema, opt, start)

    def checkpoint(self, session: TrainingSession, step: int, metadata: Mapping[str, str]) -> Path | None:
        """Save weights, EMA weights and optimizer state (the main process only)."""
        return session.save(step, modules={"model": self.base, "ema": self.ema.shadow}, optimizers={"adam": self.opt},
                            metadata={"ema_updates": str(self.ema.updates), **metadata})

    def step(self, loss: torch.Tensor) -> None:
        """Backpropagate ``loss``, take an Adam step and update the EMA."""
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.ema.update(self.model)
