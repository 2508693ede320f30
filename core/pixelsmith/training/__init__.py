"""Shared training machinery: config, checkpoints, EMA, the session plumbing (torchrun, seeds,
progress, signals), the trainer protocol and its one driver (:func:`run_trainer`). The GAN,
restoration and kernel-estimator trainers are trainers run by that driver."""

from .checkpoint import Checkpoint, latest_checkpoint, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .ema import EMA
from .session import TrainingSession
from .trainee import NetworkTrainer, Trainee
from .trainer import CheckpointParts, RunResult, Trainer, run_trainer

__all__ = ["TrainConfig", "TrainingSession", "Trainer", "CheckpointParts", "RunResult", "run_trainer",
           "NetworkTrainer", "Trainee", "EMA", "Checkpoint", "save_checkpoint", "load_checkpoint",
           "latest_checkpoint"]
