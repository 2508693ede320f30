"""The classic fully connected GAN (Goodfellow et al. 2014), as in the seed survey's worked example.

Generator: z → hidden → 2·hidden → 4·hidden → C·H·W, batch norm and LeakyReLU(0.2) between, sigmoid
output (images in [0, 1]); without batch norm a fully connected G collapsed to one digit within 2,000
steps on the 5,000-digit subset, with or without augmentation. Discriminator: C·H·W → 2·hidden →
hidden → 1 logit, LeakyReLU(0.2) and dropout. The loss
(non-saturating, softplus form) lives in the trainer, not here: D returns logits, never probabilities.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["MLPGenerator", "MLPDiscriminator"]


class MLPGenerator(nn.Module):
    def __init__(self, latent_dim: int = 100, image_size: int = 28, channels: int = 1, hidden: int = 256) -> None:
        super().__init__()
        if channels not in (1, 3) or image_size < 4:
            raise ValueError(f"channels must be 1 or 3 and image_size >= 4, got {channels}, {image_size}")
        self.latent_dim = latent_dim
        self.shape = (channels, image_size, image_size)
        self.net = nn.Sequential(
            nn.Linear(latent_dim, hidden), nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(hidden, 2 * hidden), nn.BatchNorm1d(2 * hidden), nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(2 * hidden, 4 * hidden), nn.BatchNorm1d(4 * hidden), nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(4 * hidden, channels * image_size * image_size), nn.Sigmoid(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).reshape(z.shape[0], *self.shape)


class MLPDiscriminator(nn.Module):
    def __init__(self, image_size: int = 28, channels: int = 1, hidden: int = 256, dropout: float = 0.3) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(channels * image_size * image_size, 2 * hidden), nn.LeakyReLU(0.2, inplace=True),
            nn.Dropout(dropout),
            nn.Linear(2 * hidden, hidden), nn.LeakyReLU(0.2, inplace=True), nn.Dropout(dropout),
            nn.Linear(hidden, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1)).squeeze(1)
