"""The options every ``pixelsmith train NAME`` command shares, as one frozen record.

The CLI parses the flags into a :class:`TrainConfig` and calls the component spec's
``train(config)``; plugin-specific options travel in ``extra`` (``key=value`` on the command line).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

__all__ = ["TrainConfig"]


@dataclass(frozen=True)
class TrainConfig:
    out: Path
    data: Path | None = None          # None: the component's embedded default data
    # every --data given, in order: folders or the keywords "photos" / "dead-leaves" (restoration
    # trainers mix them; see pixelsmith.training.sources). Empty: ``data`` alone.
    sources: tuple[str, ...] = ()
    steps: int = 1000                 # total optimisation steps (not "more steps" on resume)
    batch_size: int = 64              # per process; the effective batch is batch_size × world size
    lr: float | None = None           # None: the trainer's default
    checkpoint_every: int = 500
    sample_every: int = 500           # sample grids / validation every N steps
    resume: bool = False
    seed: int = 0
    device: str | None = None         # None: CUDA when available, else CPU
    augment: bool = True
    quiet: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "out", Path(self.out))
        object.__setattr__(self, "sources", tuple(str(s) for s in self.sources))
        if self.data is not None:
            object.__setattr__(self, "data", Path(self.data))
