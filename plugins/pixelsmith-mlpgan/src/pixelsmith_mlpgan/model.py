"""The classic fully connected GAN (Goodfellow et al. 2014), as in the seed survey's worked example.

Generator: z → hidden → 2·hidden → 4·hidden → C·H·W, batch norm and LeakyReLU(0.2) between, sigmoid
output (images in [0, 1]); without batch norm a fully connected G collapsed to one digit within 2,000
steps on the 5,000-digit subset, with or without augmentation. Discriminator: C·H·W → 2·hidden →
hidden → 1 logit, LeakyReLU(0.2) and dropout. The loss
(non-saturating, softplus form) lives in the trainer, not here: D returns logits, never probabilities.

Class-conditional variant (``num_classes`` > 0), the model of Mirza & Osindero (2014): G takes the
one-hot label beside ``z``; D adds a projection term ``<embed(y), h>`` on its last hidden layer to the
logit (Miyato & Koyama 2018, as ``dcgan-cond`` does) rather than Mirza & Osindero's concatenation, so D
judges "is this a real 3" rather than "is this real" and "is this a 3" separately.
"""

from __future__ import annotations

import torch
from torch import nn

from pixelsmith.plugin import check_labels, latent_input

__all__ = ["MLPGenerator", "MLPDiscriminator"]


def _check_options(channels: int, image_size: int, num_classes: int) -> None:
    if channels not in (1, 3) or image_size < 4:
        raise ValueError(f"channels must be 1 or 3 and image_size >= 4, got {channels}, {image_size}")
    if num_classes < 0:
        raise ValueError(f"num_classes must be 0 (unconditional) or more, got {num_classes}")


class MLPGenerator(nn.Module):
    def __init__(self, latent_dim: int = 100, image_size: int = 28, channels: int = 1, hidden: int = 256,
                 num_classes: int = 0) -> None:
        super().__init__()
        _check_options(channels, image_size, num_classes)
        self.latent_dim = latent_dim
        self.num_classes = num_classes
        self.shape = (channels, image_size, image_size)
        self.net = nn.Sequential(
            nn.Linear(latent_dim + num_classes, hidden), nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(hidden, 2 * hidden), nn.BatchNorm1d(2 * hidden), nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(2 * hidden, 4 * hidden), nn.BatchNorm1d(4 * hidden), nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(4 * hidden, channels * image_size * image_size), nn.Sigmoid(),
        )

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        z = latent_input(z, labels, self.latent_dim, self.num_classes)
        return self.net(z).reshape(z.shape[0], *self.shape)


class MLPDiscriminator(nn.Module):
    def __init__(self, image_size: int = 28, channels: int = 1, hidden: int = 256, dropout: float = 0.3,
                 num_classes: int = 0) -> None:
        super().__init__()
        _check_options(channels, image_size, num_classes)
        self.num_classes = num_classes
        self.net = nn.Sequential(
            nn.Linear(channels * image_size * image_size, 2 * hidden), nn.LeakyReLU(0.2, inplace=True),
            nn.Dropout(dropout),
            nn.Linear(2 * hidden, hidden), nn.LeakyReLU(0.2, inplace=True), nn.Dropout(dropout),
            nn.Linear(hidden, 1),  # kept inside ``net``: checkpoints of unconditional runs keep their keys
        )
        self.embed = nn.Embedding(num_classes, hidden) if num_classes else None
        if self.embed is not None:  # N(0, 1) would let the label term swamp the logit at the start
            nn.init.normal_(self.embed.weight, 0.0, 0.02)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        labels = check_labels(labels, x.shape[0], self.num_classes)
        h = self.net[:-1](x.flatten(1))
        out = self.net[-1](h).squeeze(1)
        if labels is not None:
            out = out + (self.embed(labels) * h).sum(1)
        return out
