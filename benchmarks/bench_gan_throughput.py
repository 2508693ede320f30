"""Training throughput: pixelsmith's GAN trainer vs a plain PyTorch loop, same model, same batch.

    python benchmarks/bench_gan_throughput.py --model dcgan --steps 200 --rounds 3

The plain loop is what one writes by hand: index a random batch, draw latents, D step on real and
fake (two forwards), G step through D (D weight gradients computed and thrown away), Adam on both,
no augmentation, no EMA, no checkpoints. The trainer runs through the spec's ``train(TrainConfig(...))``
with ``--no-augment`` (like for like) and, for information, with augmentation on; its steps/s are read
from its own log (time between the first and last logged step, so start-up and the final checkpoint
are not counted). Rounds alternate plain / trainer so a busy machine slows both alike; medians are
reported with their ratio, and the median of the per-round (paired) ratios.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import pixelsmith
from pixelsmith.data import load_mnist
from pixelsmith.plugin import TrainConfig, read_metadata


def builders(model: str):
    """(build G, build D, latent size, train) with the trainer's default architecture: the one the shipped
    weights were trained with (their ``model_config``); the networks from the plugin's top-level API."""
    spec = pixelsmith.spec("generator", model)
    a = json.loads(read_metadata(spec.weights.path)["model_config"])
    if model == "dcgan":
        from pixelsmith_dcgan import DCGANDiscriminator, DCGANGenerator

        return (lambda: DCGANGenerator(a["latent_dim"], 28, 1, a["ngf"]), lambda: DCGANDiscriminator(28, 1, a["ndf"]),
                a["latent_dim"], spec.train)
    from pixelsmith_mlpgan import MLPDiscriminator, MLPGenerator

    return (lambda: MLPGenerator(a["latent_dim"], 28, 1, a["hidden"]), lambda: MLPDiscriminator(28, 1, a["hidden"]),
            a["latent_dim"], spec.train)


def plain_loop(model: str, steps: int, batch: int, images: torch.Tensor) -> float:
    build_g, build_d, latent_dim, _ = builders(model)
    torch.manual_seed(0)
    G, D = build_g(), build_d()
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    n = images.shape[0]
    warm = 10
    for step in range(steps + warm):
        if step == warm:
            t0 = time.perf_counter()
        real = images[torch.randint(0, n, (batch,))]
        z = torch.randn(batch, latent_dim)
        fake = G(z)
        loss_d = F.softplus(-D(real)).mean() + F.softplus(D(fake.detach())).mean()
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        loss_g = F.softplus(-D(fake)).mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
    return steps / (time.perf_counter() - t0)


def trainer(model: str, steps: int, batch: int, augment: bool) -> float:
    _, _, _, train = builders(model)
    log_every = 10
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(out=Path(tmp) / "run", steps=steps + log_every, batch_size=batch, checkpoint_every=0,
                          sample_every=0, quiet=True, augment=augment, device="cpu", extra={"log_every": log_every})
        train(cfg)
        records = [json.loads(line) for line in (Path(tmp) / "run" / "log.jsonl").read_text().splitlines()]
    first, last = records[0], records[-1]
    return (last["step"] - first["step"]) / (last["seconds"] - first["seconds"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", choices=("dcgan", "mlp-gan"), default="dcgan")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-augment-run", action="store_true", help="skip the trainer run with augmentation on")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    images, _ = load_mnist()
    rows: dict[str, list[float]] = {"plain loop": [], "trainer --no-augment": [], "trainer (augment on)": []}
    for r in range(args.rounds):
        rows["plain loop"].append(plain_loop(args.model, args.steps, args.batch_size, images))
        rows["trainer --no-augment"].append(trainer(args.model, args.steps, args.batch_size, False))
        if not args.no_augment_run:
            rows["trainer (augment on)"].append(trainer(args.model, args.steps, args.batch_size, True))
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in rows.items() if v), flush=True)
    med = {k: statistics.median(v) for k, v in rows.items() if v}
    print(f"\n{args.model}, batch {args.batch_size}, {args.steps} steps × {args.rounds} rounds, "
          f"{args.threads} thread(s), torch {torch.__version__}")
    print("| loop | steps/s (median) | ratio to plain |\n|---|---|---|")
    for k, v in med.items():
        print(f"| {k} | {v:.2f} | {v / med['plain loop']:.2f} |")
    paired = [t / p for t, p in zip(rows["trainer --no-augment"], rows["plain loop"])]
    print(f"per-round ratios trainer(--no-augment)/plain: {', '.join(f'{r:.2f}' for r in paired)}")
    print(f"RATIO trainer(--no-augment)/plain = {statistics.median(paired):.2f} (median of per-round ratios; "
          f"ratio of medians {med['trainer --no-augment'] / med['plain loop']:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
