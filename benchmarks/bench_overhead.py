"""Registry / Restorer.restore / Pipeline overhead vs calling the model directly (goal: ≤ 2 %).

    python benchmarks/bench_overhead.py [--size 256] [--rounds 15]

Uses a small convolutional network (a stand-in for a learned restorer, so the result does not
depend on which plugins have weights) registered in-process, and times, interleaved:
the bare ``nn.Module`` call; ``restorer.restore`` (input checks, clamping); a lookup by name
each call (``pixelsmith.restorer(name)`` built once, looked up through the registry); and the
``Pipeline`` with no degradation and no metric.
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

import pixelsmith
from pixelsmith import Pipeline
from pixelsmith.plugin import Restorer, RestorerSpec, hookimpl
from pixelsmith.testing import registered

from _common import interleaved


def make_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 1, 3, padding=1)).eval()


NET = make_net()


class NetRestorer(Restorer):
    def _restore(self, x, **_):
        return x - NET(x)


class Plugin:
    @hookimpl
    def pixelsmith_register_restorers(self):
        return [RestorerSpec(name="bench-net", factory=NetRestorer, summary="4-layer CNN", tasks=("denoise",))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    with registered(Plugin()):
        run(args)


def run(args: argparse.Namespace) -> None:
    x = torch.rand(1, 1, args.size, args.size)
    r = pixelsmith.restorer("bench-net", device="cpu")
    pipe = Pipeline(restorer=r, device="cpu")
    fns = {
        "direct nn.Module": lambda: (x - NET(x)).clamp(0, 1),
        "restorer.restore": lambda: r.restore(x),
        "registry lookup + restore": lambda: pixelsmith.spec("restorer", "bench-net") and r.restore(x),
        "Pipeline.run": lambda: next(iter(pipe.run(x))),
    }
    with torch.inference_mode():
        secs = interleaved(fns, rounds=args.rounds, warmup=2)
    base = secs["direct nn.Module"]
    print(f"\noverhead on a {args.size}² image, {torch.get_num_threads()} threads (median of {args.rounds}, interleaved)")
    for name, s in secs.items():
        print(f"{name:<28}{s * 1000:>9.2f} ms   {100 * (s / base - 1):+6.2f} %  {'(goal <= 2 %)' if name != 'direct nn.Module' else ''}")


if __name__ == "__main__":
    main()
