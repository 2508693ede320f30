"""Radford et al. (2016) DCGAN networks sized for 28, 32 or 64 px and 1 or 3 channels.

Generator: a transposed convolution from the latent to a 7×7 (28 px) or 4×4 map, then stride-2
transposed convolutions that double the size and halve the channels, batch norm and ReLU between,
sigmoid at the end (images in [0, 1]). Discriminator: stride-2 convolutions with LeakyReLU(0.2),
no pooling, a linear logit. No batch norm in D: real and fake go through D in one batch and the
optional R1 penalty needs a per-sample gradient.

Class-conditional variant (``num_classes`` > 0): G takes the one-hot label beside ``z`` (Mirza &
Osindero 2014); D adds a projection term ``<embed(y), features>`` to its logit (Miyato & Koyama 2018),
which judges "is this a real 3" rather than "is this real, and separately a 3".
"""

from __future__ import annotations

import torch
from torch import nn

from pixelsmith.plugin import check_labels, latent_input

__all__ = ["DCGANGenerator", "DCGANDiscriminator", "SUPPORTED_SIZES"]

#: image size -> (size of the first feature map, number of stride-2 up/down-samplings)
SUPPORTED_SIZES = {28: (7, 2), 32: (4, 3), 64: (4, 4)}


def _check(image_size: int, channels: int) -> tuple[int, int]:
    if image_size not in SUPPORTED_SIZES:
        raise ValueError(f"image_size must be one of {sorted(SUPPORTED_SIZES)}, got {image_size}")
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    return SUPPORTED_SIZES[image_size]


def _init(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class DCGANGenerator(nn.Module):
    def __init__(self, latent_dim: int = 100, image_size: int = 28, channels: int = 1, ngf: int = 64,
                 num_classes: int = 0) -> None:
        super().__init__()
        base, n_up = _check(image_size, channels)
        if num_classes < 0:
            raise ValueError(f"num_classes must be 0 (unconditional) or more, got {num_classes}")
        widths = [ngf * 2 ** (n_up - 1 - i) for i in range(n_up)]  # e.g. 28 px: [2·ngf, ngf]
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim + num_classes, widths[0], base, 1, 0, bias=False),
            nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True),
        ]
        for a, b in zip(widths, widths[1:]):
            layers += [nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b), nn.ReLU(inplace=True)]
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1), nn.Sigmoid()]
        self.net = nn.Sequential(*layers)
        self.latent_dim = latent_dim
        self.num_classes = num_classes
        _init(self)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        z = latent_input(z, labels, self.latent_dim, self.num_classes)
        return self.net(z[:, :, None, None])


class DCGANDiscriminator(nn.Module):
    def __init__(self, image_size: int = 28, channels: int = 1, ndf: int = 64, num_classes: int = 0) -> None:
        super().__init__()
        base, n_down = _check(image_size, channels)
        widths = [ndf * 2 ** i for i in range(n_down)]
        layers: list[nn.Module] = []
        prev = channels
        for w in widths:
            layers += [nn.Conv2d(prev, w, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
            prev = w
        self.features = nn.Sequential(*layers)
        self.logit = nn.Linear(prev * base * base, 1)
        self.num_classes = num_classes
        self.embed = nn.Embedding(num_classes, prev * base * base) if num_classes else None
        _init(self)
        if self.embed is not None:
            nn.init.normal_(self.embed.weight, 0.0, 0.02)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        labels = check_labels(labels, x.shape[0], self.num_classes)
        h = self.features(x).flatten(1)
        out = self.logit(h).squeeze(1)
        if labels is not None:
            out = out + (self.embed(labels) * h).sum(1)
        return out
