"""``pixelsmith train NAME``: train a generator or restorer through its spec's ``train(config)``."""

from __future__ import annotations

import argparse
import gc
import os
from pathlib import Path

from ..errors import InvalidInputError, PixelsmithError, UnknownComponentError
from ..registry import get_registry
from ..specs import ComponentSpec
from ..training.config import TrainConfig
from ..training.options import check_options, trainer_options
from ..training.sources import SOURCE_KEYWORDS, is_keyword_source
from ..weights import read_metadata
from ._common import add_max_pixels, check_output_folder, info, interrupted_exit_code, parse_params


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="train a generator or restorer (its plugin provides the trainer)",
        description="Train the generator or restorer NAME with its plugin's trainer. Without --data the "
                    "component's embedded default data is used. Plugin-specific options go as key=value.",
        epilog="example: pixelsmith train dcgan --steps 2000 --out runs/dcgan")
    p.add_argument("name", help="generator or restorer name")
    p.add_argument("extra", nargs="*", metavar="key=value", help="options specific to this trainer")
    p.add_argument("--data", action="append", metavar="SOURCE",
                   help="training data: a folder of images, or for restorers 'photos' (the bundled "
                        "photographs) or 'dead-leaves' (procedural images made on the fly); repeat to mix "
                        "them (weights: mix=0.3,0.7). Default: the component's embedded data")
    p.add_argument("--steps", type=int, help="total optimisation steps")
    p.add_argument("--batch-size", type=int, help="images per step")
    p.add_argument("--lr", type=float, help="learning rate (default: the trainer's)")
    p.add_argument("--out", type=Path, help="run folder for checkpoints and samples (default runs/NAME)")
    p.add_argument("--checkpoint-every", type=int, help="write a checkpoint every N steps")
    p.add_argument("--sample-every", type=int, help="write samples / validate every N steps")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --out")
    p.add_argument("--seed", type=int, help="random seed")
    p.add_argument("--device", help="cpu, cuda or cuda:N (default: CUDA when available)")
    p.add_argument("--no-augment", action="store_true", help="switch data augmentation off")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_max_pixels(p)
    p.set_defaults(run=run, kv_dest="extra")


def find_trainable(name: str) -> ComponentSpec:
    """The generator or restorer spec called ``name``; errors say what exists and what can train."""
    registry = get_registry()
    found = [registry.find(kind, name) for kind in ("generator", "restorer")]
    found = [c for c in found if c is not None]
    trainable = sorted(f"{kind} {n}" for kind in ("generator", "restorer")
                       for n, c in registry.items(kind) if c.spec.train is not None)
    if not found:
        try:
            registry.get("restorer", name)
        except UnknownComponentError as exc:
            raise UnknownComponentError(
                f"no generator or restorer named {name!r}; trainable components: "
                f"{', '.join(trainable) or 'none'} ({exc})") from None
    if len(found) > 1:
        raise InvalidInputError(f"{name!r} is both a generator and a restorer; rename one of them")
    spec = found[0].spec
    if spec.train is None:
        raise InvalidInputError(
            f"{spec.kind} {spec.name!r} has no trainer; trainable components: {', '.join(trainable) or 'none'}")
    return spec


def run(args: argparse.Namespace) -> int:
    spec = find_trainable(args.name)
    sources = tuple(args.data or ())
    for source in sources:
        if not is_keyword_source(source) and not Path(source).exists():
            raise InvalidInputError(f"--data {source} does not exist; give a folder of images, "
                                    f"or one of {', '.join(SOURCE_KEYWORDS)}")
    paths = [Path(s) for s in sources if not is_keyword_source(s)]
    options = {
        "data": paths[0] if len(sources) == 1 and paths else None, "steps": args.steps, "batch_size": args.batch_size, "lr": args.lr,
        "checkpoint_every": args.checkpoint_every, "sample_every": args.sample_every, "seed": args.seed,
        "device": args.device,
    }
    for key in ("steps", "batch_size", "checkpoint_every", "sample_every"):
        if options[key] is not None and options[key] < 1:
            raise InvalidInputError(f"--{key.replace('_', '-')} must be at least 1, got {options[key]}")
    # the trainer's own key=value options, refused before a run folder is made or data is read
    # (checked only: the trainer reads them as the command line gave them)
    extra = parse_params(args.extra)
    check_options(spec.name, trainer_options(spec.train), extra)
    out = args.out or Path("runs") / spec.name
    if os.environ.get("RANK", "0") == "0":  # only rank 0 writes the run folder
        check_output_folder(out, what="run folder (--out)")
    config = TrainConfig(
        out=out,
        sources=sources, resume=args.resume, augment=not args.no_augment, quiet=args.quiet,
        extra=extra,
        **{k: v for k, v in options.items() if v is not None},
    )
    from ..training import session

    session._stop_signal = None  # a trainer without a session must not inherit an earlier run's stop
    result = spec.train(config)
    stopped_by = session.stop_signal()
    if os.environ.get("WORLD_SIZE", "1") != "1":
        # DistributedDataParallel wrappers sit in reference cycles that keep their gloo process group
        # alive until interpreter shutdown, where destroying it can abort the process ("terminate
        # called without an active exception"); collect them now, while the interpreter is whole
        gc.collect()
    # under torchrun only rank 0 reports (as only rank 0 writes checkpoints, samples and logs)
    quiet = args.quiet or os.environ.get("RANK", "0") != "0"
    reached = _checkpoint_step(result)
    if reached is not None and reached < config.steps:
        info(f"training of {spec.name} stopped at step {reached} of {config.steps}; "
             f"continue with the same command and --resume (checkpoint {result})", quiet=quiet)
    elif stopped_by is not None:
        info(f"training of {spec.name} stopped early; continue with the same command and --resume", quiet=quiet)
    else:
        info(f"training of {spec.name} finished; outputs in {config.out}"
             + (f" (checkpoint {result})" if result is not None else ""), quiet=quiet)
    # stopped by a signal (with a checkpoint written): 130 for Ctrl-C, 143 for SIGTERM, as for any command
    return interrupted_exit_code(signum=stopped_by) if stopped_by is not None else 0


def _checkpoint_step(path: object) -> int | None:
    """The step a returned checkpoint was written at (None when the trainer returned something else)."""
    if not isinstance(path, (str, Path)) or not Path(path).name.startswith("checkpoint-"):
        return None
    try:
        text = read_metadata(path).get("step", "")
    except PixelsmithError:
        return None
    return int(text) if text.isascii() and text.isdigit() else None
