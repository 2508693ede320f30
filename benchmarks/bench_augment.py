"""Kornia paired augmentation cost per training step vs a small U-Net training step.

    python benchmarks/bench_augment.py [--batch 16] [--patch 64] [--rounds 7]

The same flips and 90° rotations are applied to the clean and the noisy batch (one
``AugmentationSequential`` call with both tensors), then compared with one forward, backward and
Adam step of a 3-level, 32-channel U-Net on the same batch, interleaved.
"""

from __future__ import annotations

import argparse

import kornia.augmentation as K
import torch
from torch import nn

from _common import interleaved


class TinyUNet(nn.Module):
    def __init__(self, c: int = 32) -> None:
        super().__init__()

        def block(i, o):
            return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.ReLU(), nn.Conv2d(o, o, 3, padding=1), nn.ReLU())
        self.e1, self.e2, self.e3 = block(1, c), block(c, 2 * c), block(2 * c, 4 * c)
        self.u2, self.d2 = nn.ConvTranspose2d(4 * c, 2 * c, 2, 2), block(4 * c, 2 * c)
        self.u1, self.d1 = nn.ConvTranspose2d(2 * c, c, 2, 2), block(2 * c, c)
        self.out = nn.Conv2d(c, 1, 1)

    def forward(self, x):
        e1 = self.e1(x)
        e2 = self.e2(nn.functional.max_pool2d(e1, 2))
        e3 = self.e3(nn.functional.max_pool2d(e2, 2))
        d2 = self.d2(torch.cat([self.u2(e3), e2], 1))
        d1 = self.d1(torch.cat([self.u1(d2), e1], 1))
        return x - self.out(d1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--patch", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    torch.manual_seed(0)
    clean = torch.rand(args.batch, 1, args.patch, args.patch)
    noisy = (clean + 0.1 * torch.randn_like(clean)).clamp(0, 1)
    aug = K.AugmentationSequential(K.RandomHorizontalFlip(), K.RandomVerticalFlip(),
                                   K.RandomRotation90(times=(0, 3), p=1.0), data_keys=["input", "input"])
    net = TinyUNet()
    opt = torch.optim.Adam(net.parameters(), 1e-3)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = nn.functional.mse_loss(net(noisy), clean)
        loss.backward()
        opt.step()

    secs = interleaved({"augment (paired)": lambda: aug(clean, noisy), "U-Net train step": step},
                       rounds=args.rounds, warmup=2)
    a, s = secs["augment (paired)"], secs["U-Net train step"]
    print(f"\nbatch {args.batch}×1×{args.patch}², {torch.get_num_threads()} threads")
    print(f"paired augmentation {a * 1000:8.2f} ms")
    print(f"U-Net train step    {s * 1000:8.2f} ms")
    print(f"augmentation / step {100 * a / s:8.2f} %")


if __name__ == "__main__":
    main()
