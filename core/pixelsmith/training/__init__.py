"""Shared training machinery: config, checkpoints, EMA, the session plumbing (torchrun, seeds,
progress, signals). The GAN and restoration trainers build on these."""

from .checkpoint import Checkpoint, latest_checkpoint, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .ema import EMA
from .session import TrainingSession
from .trainee import Trainee

__all__ = ["TrainConfig", "TrainingSession", "Trainee", "EMA", "Checkpoint", "save_checkpoint", "load_checkpoint",
           "latest_checkpoint"]
