"""The trainer protocol and the one training driver every ``pixelsmith train NAME`` runs on.

A trainer says *what* to train: how to set up (data, networks, optimisers; state from a
checkpoint), one optimisation step, a validation, the parts of a checkpoint and what to write at
the end. :func:`run_trainer` says *when*: it opens the :class:`~pixelsmith.training.TrainingSession`
(torchrun/DDP, per-step seeds, signals), finds the checkpoint to resume from (verified against
``checkpoints.sha256``), runs the steps, shows progress and writes ``log.jsonl``, checkpoints
every ``checkpoint_every`` steps, at the end and on SIGINT/SIGTERM, validates every
``sample_every`` steps and at the end, and finally calls the trainer's ``export``.

The GAN trainer (:class:`pixelsmith.training.gan.GANTrainer`), the restoration trainer
(:class:`pixelsmith.training.restoration.RestorationTrainer`) and the deblur plugin's kernel
estimator all run on it; :class:`pixelsmith.training.trainee.NetworkTrainer` is the base of the
last two (one network, Adam, EMA, warm-up and cosine learning rate).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Protocol, runtime_checkable

import torch

from .checkpoint import Checkpoint, latest_checkpoint
from .config import TrainConfig
from .session import TrainingSession

__all__ = ["Trainer", "CheckpointParts", "RunResult", "run_trainer"]


@dataclass
class CheckpointParts:
    """What one checkpoint holds, as :meth:`Trainer.checkpoint_parts` returns it.

    ``modules`` are saved as ``<name>.<parameter>`` tensors, ``optimizers`` as ``optim.<name>.…``
    (their param groups in the metadata), ``rng`` tensors as ``rng.<name>``; ``metadata`` values are
    stored as strings (JSON for anything but a string). The session adds ``component``, ``seed``,
    ``world_size``, ``step`` and ``format``. These names are what ``--resume`` reads back: keep them
    stable, or older run folders stop resuming.
    """

    modules: Mapping[str, torch.nn.Module]
    optimizers: Mapping[str, torch.optim.Optimizer] = field(default_factory=dict)
    rng: Mapping[str, torch.Tensor] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class RunResult:
    """How the steps went, as :meth:`Trainer.export` receives it."""

    step: int                       #: the last step trained (``start`` when there was nothing to train)
    start: int                      #: the step this run started from (0, or the resumed checkpoint's)
    values: dict[str, float]        #: the last validation values of this run (main process; may be empty)
    stopped: bool                   #: stopped early by SIGINT/SIGTERM (a checkpoint was written)
    checkpoint: Path | None         #: the newest checkpoint (None on processes other than rank 0)
    seconds: float                  #: wall time of the steps (set-up excluded)


@runtime_checkable
class Trainer(Protocol):
    """What :func:`run_trainer` drives. Every hook gets the running session as its first argument.

    Optional attributes the driver reads after :meth:`setup`: ``log_every`` (steps between
    ``log.jsonl`` records; default ``max(1, sample_every // 5)``), ``stop_check_every`` (steps
    between checks for a stop signal, which under torchrun cost a collective; default 1) and
    ``keep_checkpoints`` (how many rotated checkpoints stay; default 2, read before the session opens).
    """

    #: the component name; recorded in every checkpoint, and a run folder of another component is refused
    component: str

    def setup(self, session: TrainingSession, checkpoint: Checkpoint | None) -> None:
        """Load the data, build networks and optimisers (``session.wrap`` for DDP); with ``checkpoint``
        (``--resume``), load their state from it. The run continues at ``checkpoint.step``."""

    def step(self, session: TrainingSession, step: int) -> Mapping[str, float | torch.Tensor] | None:
        """One optimisation step. Draw every random number from ``session.step_generator(step, …)``
        and data from ``session.batch_indices(step, n)`` so a resumed run is exact. Return scalars to
        log (floats or 0-dim tensors; tensors are read only on logging steps, so no host sync on
        the others); under torchrun they are averaged over the processes."""

    def validate(self, session: TrainingSession, step: int) -> Mapping[str, float]:
        """Main process only: validation values, sample grids… (log them with ``session.log``)."""

    def checkpoint_parts(self, session: TrainingSession, step: int) -> CheckpointParts:
        """The networks, optimisers and metadata that make a checkpoint (written by rank 0)."""

    def export(self, session: TrainingSession, run: RunResult) -> Any:
        """After the steps, on every process (write files only when ``session.is_main``): the
        shippable weights, for instance. Its return value is what ``run_trainer`` returns."""


def _due(step: int, every: int) -> bool:
    return every > 0 and step % every == 0


def run_trainer(config: TrainConfig, trainer: Trainer) -> Any:
    """Run ``trainer`` as ``config`` says: the one loop of every pixelsmith trainer; returns what
    ``trainer.export`` returns.

    Steps ``start + 1 … config.steps``, each ``trainer.step``; a checkpoint every
    ``checkpoint_every`` steps, at the last step and when a signal stops the run (then every rank
    stops at the same step); ``trainer.validate`` on the main process every ``sample_every`` steps
    and at the last step. A run stopped by a signal is not validated again at its end.
    """
    keep = int(getattr(trainer, "keep_checkpoints", 2))
    with TrainingSession(config, trainer.component, keep_checkpoints=keep) as session:
        checkpoint = session.resume_checkpoint()
        start = checkpoint.step if checkpoint is not None else 0
        trainer.setup(session, checkpoint)
        del checkpoint  # the trainer took what it needs; free the tensors before training
        if start >= config.steps:
            session.say(f"checkpoint is at step {start}, already >= --steps {config.steps}; "
                        "nothing to train (raise --steps to continue)")
        log_every = getattr(trainer, "log_every", None) or max(1, config.sample_every // 5)
        stop_every = max(1, int(getattr(trainer, "stop_check_every", 1) or 1))

        def save(step: int) -> Path | None:
            parts = trainer.checkpoint_parts(session, step)
            return session.save(step, modules=parts.modules, optimizers=parts.optimizers, rng=parts.rng,
                                metadata=dict(parts.metadata))

        step, saved, validated = start, (start if start > 0 else None), None
        values: dict[str, float] = {}
        path: Path | None = None
        stopped = False
        started = time.monotonic()
        for step in session.iterate(start):
            session.step_done(step, trainer.step(session, step), log_every=log_every)
            stopped = step % stop_every == 0 and session.should_stop()
            if _due(step, config.checkpoint_every) or step == config.steps or stopped:
                path, saved = save(step), step
            if session.is_main and (_due(step, config.sample_every) or step == config.steps):
                values, validated = dict(trainer.validate(session, step) or {}), step
            if stopped:
                session.say(f"stopped at step {step} with a checkpoint; continue with --resume")
                break
        if saved != step:
            path = save(step)
        elif path is None and session.is_main:  # nothing trained: the checkpoint resumed from
            path = latest_checkpoint(session.out)
        if session.is_main and not stopped and validated != step:
            values = dict(trainer.validate(session, step) or {})
        result = RunResult(step=step, start=start, values=values, stopped=stopped, checkpoint=path,
                           seconds=time.monotonic() - started)
        return trainer.export(session, result)
