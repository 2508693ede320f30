"""The plumbing every trainer shares: devices and torchrun, per-step seeds, data order, progress,
logs, checkpoint rotation and clean stops on SIGINT/SIGTERM.

Randomness is a pure function of (seed, rank, step): :meth:`TrainingSession.step_generator` and
:meth:`TrainingSession.batch_indices` give the same draws for the same step whatever happened
before, so a run resumed from a checkpoint continues exactly as an uninterrupted run would.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Iterator, Mapping

import torch
import torch.distributed as dist

from ..errors import TrainingError, WeightsError
from ..tensors import default_device
from .checkpoint import (
    CHECKPOINT_GLOB,
    Checkpoint,
    checkpoints_newest_first,
    latest_checkpoint,
    load_checkpoint,
    prune_manifest,
    read_manifest,
    save_checkpoint,
    verify_checkpoint,
)
from .config import TrainConfig
from .ema import _unwrap

__all__ = ["TrainingSession", "stop_signal"]

#: The signal (SIGINT, SIGTERM) that stopped the last session of this process early; see stop_signal().
_stop_signal: int | None = None


def stop_signal() -> int | None:
    """The signal that made the latest :class:`TrainingSession` of this process stop before its last
    step (None: it ran to the end, or is running). The CLI turns it into exit code 128 + signal."""
    return _stop_signal


def _derive_seed(*parts: int | str) -> int:
    digest = hashlib.sha256("/".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


class TrainingSession:
    """One training run, on one process or under ``torchrun`` (DistributedDataParallel)."""

    def __init__(self, config: TrainConfig, component: str, *, keep_checkpoints: int = 2) -> None:
        self.config = config
        self.component = component
        self.keep_checkpoints = keep_checkpoints
        self.world_size = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.distributed = self.world_size > 1
        if config.steps < 1:
            raise TrainingError(f"--steps must be at least 1, got {config.steps}")
        if config.batch_size < 1:
            raise TrainingError(f"--batch-size must be at least 1, got {config.batch_size}")
        device = default_device(config.device)
        if self.distributed:
            if device.type == "cuda":
                device = torch.device("cuda", self.local_rank)
                torch.cuda.set_device(device)
            if not dist.is_initialized():
                dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        self.device = device
        self.is_main = self.rank == 0
        self.out = config.out
        if self.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
        self.stop_requested = False
        self._first_signal_at = 0.0
        self._previous_handlers: dict[int, Any] = {}
        self._bar = None
        self._log_file = None
        self._started = time.monotonic()

    # -- lifecycle ------------------------------------------------------------------------------
    def __enter__(self) -> "TrainingSession":
        global _stop_signal
        _stop_signal = None
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous_handlers[sig] = signal.signal(sig, self._on_signal)
            except ValueError:  # not the main thread: leave signals alone
                pass
        if self.is_main:
            self._log_file = open(self.out / "log.jsonl", "a", encoding="utf-8")
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous_handlers.items():
            signal.signal(sig, handler)
        if self._bar is not None:
            self._bar.close()
        if self._log_file is not None:
            self._log_file.close()
        if self.distributed and dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()

    def _on_signal(self, signum: int, frame: object) -> None:
        # A second signal stops at once (Ctrl-C twice), but not one that arrives together with the
        # first: torchrun forwards SIGTERM to its workers and SLURM signals every process of a step,
        # so a worker often gets the same SIGTERM twice within milliseconds.
        now = time.monotonic()
        if self.stop_requested and now - self._first_signal_at > 1.0:
            raise KeyboardInterrupt
        if self.stop_requested:
            return
        global _stop_signal
        _stop_signal = signum
        self._first_signal_at = now
        self.stop_requested = True
        self.say(f"{signal.Signals(signum).name} received: writing a checkpoint and stopping "
                 "(send again to stop at once)")

    def should_stop(self) -> bool:
        """True on every rank as soon as any rank got SIGINT/SIGTERM (ranks must stop at the same step)."""
        if not self.distributed:
            return self.stop_requested
        flag = torch.tensor([1.0 if self.stop_requested else 0.0], device=self._comm_device())
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item() > 0)

    # -- randomness and data order ------------------------------------------------------------------
    def step_generator(self, step: int, stream: str = "main", *, per_rank: bool = True,
                       device: torch.device | str | None = "cpu") -> torch.Generator:
        """A generator seeded from (seed, rank, step, stream): same step, same draws, on resume too."""
        seed = _derive_seed(self.config.seed, self.rank if per_rank else "all", step, stream)
        return torch.Generator(device=device or "cpu").manual_seed(seed)

    def batch_indices(self, step: int, n: int, batch_size: int | None = None) -> torch.Tensor:
        """This rank's sample indices for ``step``: epochs of a seeded permutation, split across ranks.

        Rank r of W takes slice r of the global batch, so W processes × b see exactly what
        1 process × W·b sees.
        """
        b = batch_size or self.config.batch_size
        global_batch = b * self.world_size
        if n < 1:
            raise TrainingError("the training data is empty")
        per_epoch = max(1, n // global_batch)
        epoch, within = divmod(step, per_epoch)
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(_derive_seed(self.config.seed, "epoch", epoch)))
        if n < global_batch:  # tiny data: repeat the permutation to fill a batch
            perm = perm.repeat(-(-global_batch // n))
        start = within * global_batch + self.rank * b
        return perm[start:start + b]

    def derive_seed(self, *parts: int | str) -> int:
        """A 63-bit seed derived from (``--seed``, ``*parts``), e.g. ``torch.manual_seed(session.derive_seed("init"))``
        for the same initial weights on every rank, or ``(session.rank, step, "global")`` for what only
        the global RNG can seed (dropout)."""
        return _derive_seed(self.config.seed, *parts)

    @property
    def effective_batch_size(self) -> int:
        return self.config.batch_size * self.world_size

    # -- models ------------------------------------------------------------------------------------
    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """Move to the device; under torchrun wrap in DistributedDataParallel."""
        model = model.to(self.device)
        if self.distributed:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            with warnings.catch_warnings():
                # recent torch deprecates broadcast_buffers without offering the same behaviour yet:
                # rank-local batch-norm statistics are what we want (only rank 0 saves them)
                warnings.filterwarnings("ignore", message=".*broadcast_buffers.*")
                model = DistributedDataParallel(model, device_ids=ids, broadcast_buffers=False)
        return model

    @staticmethod
    def unwrap(model: torch.nn.Module) -> torch.nn.Module:
        """The network inside a :meth:`wrap`-ped module (itself when it is not wrapped)."""
        return _unwrap(model)

    def all_reduce_mean(self, value: torch.Tensor) -> torch.Tensor:
        if not self.distributed:
            return value
        v = value.detach().clone().to(self._comm_device())
        dist.all_reduce(v)
        return (v / self.world_size).to(value.device)

    def _comm_device(self) -> torch.device:
        return self.device if self.device.type == "cuda" else torch.device("cpu")

    # -- checkpoints -------------------------------------------------------------------------------
    def resume_checkpoint(self) -> Checkpoint | None:
        """The checkpoint to resume from when ``--resume`` was given (None: start fresh)."""
        if not self.config.resume:
            existing = latest_checkpoint(self.out) if self.out.exists() else None
            if existing is not None:
                raise TrainingError(
                    f"{self.out} already holds {existing.name}; pass --resume to continue that run, "
                    "or choose another --out (nothing is overwritten)"
                )
            return None
        candidates = checkpoints_newest_first(self.out) if self.out.exists() else []
        if not candidates:
            self.say(f"--resume: no checkpoint in {self.out}, starting from step 0")
            return None
        manifest = read_manifest(self.out)
        damaged: list[tuple[Path, WeightsError]] = []
        for path in candidates:
            try:
                status = verify_checkpoint(path, manifest)
                ckpt = load_checkpoint(path, device="cpu")
            except WeightsError as exc:
                # checkpoints are written atomically, so this is damage from outside: a copy cut short,
                # a full disk, flipped bits. Set it aside and try the one before.
                damaged.append((path, exc))
                continue
            except FileNotFoundError:  # set aside meanwhile by rank 0
                continue
            break
        else:
            listing = "; ".join(f"{p.name}: {e}" for p, e in damaged)
            raise WeightsError(f"cannot resume: no checkpoint in {self.out} is intact ({listing}); delete them "
                               "to start again, or choose another --out")
        if ckpt.metadata.get("component") not in (None, self.component):
            raise TrainingError(f"{path} was written by a {ckpt.metadata.get('component')} run, "
                                f"not {self.component}; use another --out")
        if damaged:
            self._set_aside(damaged, path)
        if status == "unlisted":
            self.warn(f"{path.name} is not in {self.out / 'checkpoints.sha256'} (copied in by hand?); "
                      "its sha256 could not be checked")
        self.say(f"resuming from {path.name} at step {ckpt.step}")
        return ckpt

    def _set_aside(self, damaged: list[tuple[Path, WeightsError]], good: Path) -> None:
        """Say which checkpoints are damaged and rename them to ``*.corrupt`` (rank 0), so that neither
        rotation nor a later ``--resume`` takes them for the newest."""
        for bad, exc in damaged:
            moved = bad.with_name(bad.name + ".corrupt")
            if self.is_main:
                try:
                    bad.replace(moved)
                except OSError:
                    moved = bad
            self.warn(f"{exc}; resuming from {good.name}, the newest intact checkpoint, instead "
                      f"(the damaged file is kept as {moved.name})")

    def warn(self, message: str) -> None:
        """A warning on the main process, whatever ``--quiet`` says (it reports damage, not progress)."""
        if self.is_main:
            warnings.warn(message, stacklevel=3)

    def save(self, step: int, **kwargs: Any) -> Path | None:
        """Write ``checkpoint-<step>.safetensors`` (rank 0 only) and keep the newest few."""
        if not self.is_main:
            return None
        meta = {"component": self.component, "seed": str(self.config.seed),
                "world_size": str(self.world_size), **kwargs.pop("metadata", {})}
        path = self.out / f"checkpoint-{step:08d}.safetensors"
        save_checkpoint(path, step=step, metadata=meta, **kwargs)
        old = sorted(self.out.glob(CHECKPOINT_GLOB))[:-self.keep_checkpoints]
        for p in old:
            p.unlink(missing_ok=True)
        if old:
            prune_manifest(self.out)
        return path

    # -- reporting ---------------------------------------------------------------------------------
    def _open_progress(self, start: int) -> None:
        if self.is_main and not self.config.quiet and sys.stderr.isatty():
            from tqdm.auto import tqdm

            self._bar = tqdm(total=self.config.steps, initial=start, desc=f"train {self.component}",
                             unit="step", dynamic_ncols=True)

    def step_done(self, step: int, scalars: Mapping[str, float | torch.Tensor] | None = None, *,
                  log_every: int | None = None) -> None:
        """The progress and logging call: advance the progress bar by one step; every ``log_every``
        steps (default ``sample_every // 5``) and at the last step also append ``scalars`` to
        ``log.jsonl`` and show them beside the bar.

        :func:`~pixelsmith.training.run_trainer` calls it with what ``Trainer.step`` returns. Call it
        on every rank: under torchrun the logged scalars are the mean over all ranks (the loss of the
        global batch), not rank 0's share. Tensors are read (a host sync) only on logging steps.
        """
        every = log_every if log_every is not None else max(1, self.config.sample_every // 5)
        logging = step % max(1, every) == 0 or step == self.config.steps
        values: dict[str, float] = {}
        if logging and scalars:
            names = list(scalars)
            if self.distributed:
                mean = self.all_reduce_mean(torch.tensor([float(scalars[k]) for k in names], dtype=torch.float64))
                values = dict(zip(names, mean.tolist()))
            else:
                values = {k: float(scalars[k]) for k in names}
        if not self.is_main:
            return
        if self._bar is not None:
            if values:
                self._bar.set_postfix({k: f"{v:.4g}" for k, v in values.items()}, refresh=False)
            self._bar.update(1)
        if logging:
            self.log(step, **values)

    def log(self, step: int, **values: Any) -> None:
        if self._log_file is not None:
            record = {"step": step, "seconds": round(time.monotonic() - self._started, 3), **values}
            self._log_file.write(json.dumps(record) + "\n")
            self._log_file.flush()

    def say(self, message: str) -> None:
        if self.is_main and not self.config.quiet:
            if self._bar is not None:
                self._bar.write(message, file=sys.stderr)
            else:
                print(message, file=sys.stderr, flush=True)

    def iterate(self, start: int) -> Iterator[int]:
        """Steps ``start + 1 … steps`` with a progress bar (the driver, :func:`~pixelsmith.training.run_trainer`,
        breaks out early on a signal)."""
        self._open_progress(start)
        if self.distributed:
            self.say(f"distributed: {self.world_size} processes × batch {self.config.batch_size} "
                     f"= effective batch {self.effective_batch_size}")
        for step in range(start + 1, self.config.steps + 1):
            yield step
