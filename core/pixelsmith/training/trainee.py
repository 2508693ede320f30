"""One network trained with Adam and an EMA copy, resumable (:class:`Trainee`), and the trainer built
on it (:class:`NetworkTrainer`): the restoration trainer and the deblur kernel estimator are subclasses
that say how to load data, build the network, compute the loss and validate."""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from .checkpoint import Checkpoint
from .config import TrainConfig
from .ema import EMA
from .session import TrainingSession
from .trainer import CheckpointParts, RunResult

__all__ = ["Trainee", "NetworkTrainer", "cosine_lr", "export_weights"]


@dataclass
class Trainee:
    base: nn.Module                 # the network itself (what gets saved)
    model: nn.Module                # ``base`` as the session runs it (DistributedDataParallel under torchrun)
    ema: EMA
    opt: torch.optim.Optimizer
    start: int                      # the step to continue from; 0 for a fresh run

    @classmethod
    def prepare(cls, session: TrainingSession, base: nn.Module, *, lr: float, ema_decay: float,
                checkpoint: Checkpoint | None) -> "Trainee":
        """Wrap ``base`` for the session, make its EMA and Adam, and load their state from ``checkpoint``
        (``--resume``)."""
        ema = EMA(base, decay=ema_decay)
        model = session.wrap(base)
        ema.shadow.to(session.device)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        start = 0
        if checkpoint is not None:
            checkpoint.load_module("model", base)
            checkpoint.load_module("ema", ema.shadow)
            checkpoint.load_optimizer("adam", opt)
            ema.updates = int(checkpoint.metadata.get("ema_updates", checkpoint.step))
            start = checkpoint.step
        return cls(base, model, ema, opt, start)

    def parts(self, metadata: Mapping[str, str]) -> CheckpointParts:
        """Weights (``model.*``), EMA weights (``ema.*``) and optimizer state (``optim.adam.*``)."""
        return CheckpointParts(modules={"model": self.base, "ema": self.ema.shadow}, optimizers={"adam": self.opt},
                               metadata={"ema_updates": str(self.ema.updates), **metadata})

    def step(self, loss: torch.Tensor) -> None:
        """Backpropagate ``loss``, take an Adam step and update the EMA."""
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.ema.update(self.model)


def cosine_lr(step: int, lr0: float, lr_min: float, warmup: int, total: int, begin: int = 0) -> float:
    """Linear warm-up then cosine decay to ``lr_min`` over [begin, total]; ``begin`` > 0 is a warm restart."""
    step -= begin
    total -= begin
    if step <= warmup:
        return lr0 * step / max(1, warmup)
    t = (step - warmup) / max(1, total - warmup)
    return lr_min + 0.5 * (lr0 - lr_min) * (1 + math.cos(math.pi * min(1.0, t)))


def export_weights(path: Path, model: nn.Module, *, dtype: torch.dtype, metadata: Mapping[str, Any]) -> str:
    """Write a weights file (safetensors) from a module, floating tensors as ``dtype``; returns its sha256."""
    from ..weights import save_weights

    state = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    return save_weights(path, state, metadata)


class NetworkTrainer:
    """A :class:`~pixelsmith.training.Trainer` for one network with Adam, an EMA copy and a warm-up +
    cosine learning rate; writes the EMA weights (``weights_name``) at the end.

    A subclass sets ``component``, ``task``, ``weights_name`` and the schedule in its ``__init__``
    (``lr0``, ``lr_min``, ``warmup``, ``horizon``, ``schedule_start``, ``ema_decay``), and implements
    :meth:`load_data`, :meth:`build`, :meth:`loss` and :meth:`evaluate`. Checkpoints hold
    ``model.*``, ``ema.*``, ``optim.adam.*`` and the metadata ``ema_updates``, ``model_config``, ``task``.
    """

    component: str
    task: str                                   #: ``task`` in checkpoints and weights metadata
    weights_name: str                           #: the file written into ``--out`` at the end
    weights_component: str | None = None        #: ``component`` of the weights file (default: ``component``)
    weights_dtype: torch.dtype = torch.float16
    lr0: float = 1e-3
    lr_min: float = 2e-5
    warmup: int = 100
    horizon: int = 1000                         #: the step the cosine reaches ``lr_min``
    schedule_start: int = 0                     #: a warm restart of the schedule at this step
    ema_decay: float = 0.999
    data_description: str = ""                  #: what :meth:`load_data` loaded, for messages and metadata

    def __init__(self, config: TrainConfig, *, lr: float = 1e-3) -> None:
        self.config = config
        self.extra = dict(config.extra or {})
        self.lr0 = float(config.lr if config.lr is not None else lr)   # --lr wins over the trainer's default
        # the cosine horizon; defaults to --steps. Resuming with a larger --steps stretches the schedule
        # from where it is (lr moves down or up a little), or pin it with schedule_steps=N.
        self.horizon = int(self.extra.get("schedule_steps", config.steps))

    # -- what a subclass provides --------------------------------------------------------------------
    def load_data(self, session: TrainingSession) -> None:
        """Load the training data and build a fixed validation set; set ``data_description``."""
        raise NotImplementedError

    def build(self, session: TrainingSession) -> nn.Module:
        """The network, freshly initialised (the global RNG is seeded with ``--seed`` before)."""
        raise NotImplementedError

    def loss(self, session: TrainingSession, step: int, model: nn.Module) -> torch.Tensor:
        """The loss of ``step``'s batch through ``model`` (in train mode, DDP-wrapped under torchrun)."""
        raise NotImplementedError

    def evaluate(self, session: TrainingSession, model: nn.Module) -> dict[str, float]:
        """Validation values of ``model`` (the EMA network), under ``torch.no_grad``."""
        raise NotImplementedError

    def describe(self, values: Mapping[str, float]) -> str:
        """The validation line shown after ``step N:``."""
        return ", ".join(f"{k} {v:.4g}" for k, v in values.items())

    def summary(self, session: TrainingSession, start: int) -> str:
        """The line said when training starts."""
        return (f"training {self.component} on {self.data_description}; batch {session.effective_batch_size}, "
                f"steps {start}→{self.config.steps}, device {session.device}")

    def export_metadata(self, session: TrainingSession, run: RunResult) -> dict[str, str]:
        """Metadata of the exported weights beyond the common fields."""
        return {}

    # -- the protocol ------------------------------------------------------------------------------------
    def setup(self, session: TrainingSession, checkpoint: Checkpoint | None) -> None:
        torch.manual_seed(self.config.seed)  # the init only; every later draw uses per-step generators
        self.load_data(session)
        base = self.build(session)
        self.model_config = json.dumps(getattr(base, "config", {}))
        self.trainee = Trainee.prepare(session, base, lr=self.lr0, ema_decay=self.ema_decay, checkpoint=checkpoint)
        session.say(self.summary(session, self.trainee.start))

    def step(self, session: TrainingSession, step: int) -> dict[str, Any]:
        lr = cosine_lr(step, self.lr0, self.lr_min, self.warmup, self.horizon, self.schedule_start)
        for group in self.trainee.opt.param_groups:
            group["lr"] = lr
        model = self.trainee.model
        model.train()
        loss = self.loss(session, step, model)
        self.trainee.step(loss)
        return {"loss": loss.detach(), "lr": lr}

    def validate(self, session: TrainingSession, step: int) -> dict[str, float]:
        with torch.no_grad():
            values = self.evaluate(session, self.trainee.ema.shadow)
        session.log(step, **values)
        session.say(f"step {step}: {self.describe(values)}")
        return values

    def checkpoint_parts(self, session: TrainingSession, step: int) -> CheckpointParts:
        return self.trainee.parts({"model_config": self.model_config, "task": self.task})

    def export(self, session: TrainingSession, run: RunResult) -> Path:
        """Write the EMA weights to ``<out>/<weights_name>`` (rank 0); returns that path."""
        out = self.config.out / self.weights_name
        if session.is_main:
            values = run.values or self.validate(session, run.step)  # stopped before any validation
            meta = {"component": self.weights_component or self.component, "task": self.task,
                    "model_config": self.model_config, "steps": str(run.step),
                    "batch_size": str(session.effective_batch_size), "data": self.data_description,
                    "seconds_this_run": f"{run.seconds:.1f}", **{k: f"{v:.4f}" for k, v in values.items()},
                    **self.export_metadata(session, run)}
            sha = export_weights(out, self.trainee.ema.shadow, dtype=self.weights_dtype, metadata=meta)
            session.say(f"wrote {out} (EMA weights, step {run.step})")
            print(f"sha256 {sha}  {out}", file=sys.stdout, flush=True)
        return out
