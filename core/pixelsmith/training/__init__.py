"""Shared training machinery: config, checkpoints, EMA, the loop's plumbing, the GAN and restoration trainers."""

from .config import TrainConfig

__all__ = ["TrainConfig"]
