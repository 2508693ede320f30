"""The one GAN trainer the generator plugins share (``pixelsmith train mlp-gan|dcgan``): :class:`GANTrainer`,
run by the same driver as every trainer (:func:`pixelsmith.training.run_trainer`).

Recipe: Adam with the DCGAN settings (lr 2e-4, betas (0.5, 0.999)), one optimiser per network,
the non-saturating loss in its softplus form, an EMA of the generator weights, DiffAugment applied
to real *and* fake images before the discriminator when asked (``augment_policy=`` in ``extra``; by
default on for RGB data and off for gray data, where it measured worse — see :data:`GAN_DEFAULTS`),
an optional R1 penalty (``r1=GAMMA`` in ``extra``). Models map ``z`` (and labels when conditional)
to images in [0, 1]; discriminators take images in [0, 1] and return one logit per image.

Every random draw is a function of (seed, rank, step) through :class:`TrainingSession`: latents and
augmentation come from ``session.step_generator(step, ...)``, data order from
``session.batch_indices(step, n)`` and dropout from a per-step seed of the global RNG, so a run
resumed from a checkpoint is bitwise the run that was never interrupted (same device, same threads).

Per-step overhead is kept low: no host synchronisation except on logging steps.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any, Callable, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import TrainingError
from ..weights import save_weights
from .checkpoint import Checkpoint
from .config import TrainConfig
from .ema import EMA
from .self_condition import SelfConditionedGenerator, SubclassConditionedGenerator, cluster_images, cluster_within_classes
from .session import TrainingSession
from .trainer import CheckpointParts, RunResult, run_trainer

__all__ = ["train_gan", "GANTrainer", "GAN_DEFAULTS", "recalibrate_batchnorm", "export_generator", "read_model_config",
           "GENERATOR_FILE"]

#: The shippable file written at the end of training: EMA generator weights only.
GENERATOR_FILE = "generator.safetensors"

#: Defaults a plugin may override and a user may override again with ``extra`` (``key=value``).
GAN_DEFAULTS: dict[str, Any] = {
    "lr": 2e-4,
    "beta1": 0.5,
    "beta2": 0.999,
    "ema_decay": 0.999,
    "r1": 0.0,                                # R1 penalty weight γ (0: off)
    # DiffAugment policy: "auto", "none", or ops such as "translation,cutout". "auto" is off for gray
    # images and color,translation,cutout for RGB. Measured on the 5,000 gray MNIST digits, equal steps
    # from scratch: every policy made the samples further from the data (dcgan-cond 14,000 steps: FD 6–7×
    # worse, recall 0.79 → 0.25; mlp-gan and dcgan at 2,000–4,000 steps: recall 0.18 → 0.00); on gray
    # digits the colour ops also hide the stroke intensity from D. RGB keeps DiffAugment's own default
    # (Zhao et al. 2020), not measured here. A resumed run keeps the policy its folder recorded unless
    # this option or --no-augment is given.
    "augment_policy": "auto",
    # Self-conditioning (Liu et al. 2020; pixelsmith.training.self_condition): k > 0 clusters the training
    # images into k groups before training and trains an unconditional model as a conditional one on
    # the cluster ids, so the discriminator holds the generator to every mode. 0: off.
    "self_condition": 0,
    "log_every": 50,                          # steps between loss read-outs (host syncs)
    "num_classes": 10,
}


def _coerce(value: Any, like: Any) -> Any:
    if isinstance(like, bool):
        return str(value).lower() in ("1", "true", "yes", "on") if isinstance(value, str) else bool(value)
    if isinstance(like, int) and not isinstance(like, bool):
        return int(value)
    if isinstance(like, float):
        return float(value)
    return value


def _settings(config: TrainConfig, defaults: Mapping[str, Any]) -> dict[str, Any]:
    merged = {**GAN_DEFAULTS, **defaults}
    out = dict(merged)
    unknown = sorted(set(config.extra) - set(merged))
    if unknown:
        raise TrainingError(f"unknown training option(s) {unknown}; this trainer takes {sorted(merged)}")
    for key, value in config.extra.items():
        if key in merged:
            try:
                out[key] = _coerce(value, merged[key])
            except (TypeError, ValueError) as exc:
                raise TrainingError(f"extra option {key}={value!r}: expected a {type(merged[key]).__name__}") from exc
    if config.lr is not None:
        out["lr"] = float(config.lr)
    if out["r1"] < 0:
        raise TrainingError(f"r1 must be >= 0, got {out['r1']}")
    return out


#: ``augment_policy`` values that mean no augmentation.
_AUGMENT_OFF = ("", "none", "off")


def _augment_policy(config: TrainConfig, requested: str, channels: int, recorded: tuple[bool, str] | None
                    ) -> tuple[str, str]:
    """The DiffAugment policy this run uses ("" for none) and why, for the log line.

    ``--no-augment`` wins, then an explicit ``augment_policy=``; otherwise a resumed run keeps what its
    checkpoint recorded (so a folder started under the old default, DiffAugment on, does not silently
    change when resumed), and a new run takes ``auto``: off for gray images, DiffAugment for RGB.
    """
    if not config.augment:
        return "", "--no-augment" if recorded is None or not recorded[0] else \
            f"--no-augment; the run's checkpoint recorded {recorded[1]}"
    if "augment_policy" in config.extra:
        policy = "" if requested.strip().lower() in _AUGMENT_OFF else requested
        if policy == "auto":
            policy = "" if channels == 1 else "color,translation,cutout"
        if recorded is not None and (recorded[1] if recorded[0] else "") != policy:
            return policy, f"augment_policy option; the run's checkpoint recorded {recorded[1] if recorded[0] else 'none'}"
        return policy, "augment_policy option"
    if recorded is not None:
        on, policy = recorded
        return (policy if on else ""), "as recorded in the run's checkpoint"
    return ("" if channels == 1 else "color,translation,cutout"), f"default for {channels}-channel data"


def _augmenter(config: TrainConfig, policy: str) -> Callable[..., torch.Tensor] | None:
    if not config.augment or not policy:
        return None
    try:
        from ..augment import diff_augment
    except ImportError as exc:  # the augmentation module is a separate piece of core
        raise TrainingError("DiffAugment (pixelsmith.augment.diff_augment) is not available in this "
                            "pixelsmith; train with --no-augment") from exc

    def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return diff_augment(x, policy, generator=generator)

    return augment


def _save_grid(images: torch.Tensor, path: Path, nrow: int = 8) -> None:
    try:
        from ..io import save_grid
    except ImportError:
        save_grid = None
    if save_grid is not None:
        save_grid(images, path, nrow=nrow)
        return
    import imageio.v3 as iio
    import numpy as np

    b, c, h, w = images.shape
    rows = -(-b // nrow)
    canvas = torch.zeros(c, rows * (h + 2) + 2, nrow * (w + 2) + 2)
    for i in range(b):
        r, col = divmod(i, nrow)
        canvas[:, 2 + r * (h + 2):2 + r * (h + 2) + h, 2 + col * (w + 2):2 + col * (w + 2) + w] = images[i]
    arr = (canvas.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(path, arr[:, :, 0] if c == 1 else np.ascontiguousarray(arr))


@torch.no_grad()
def recalibrate_batchnorm(generator: nn.Module, latent_dim: int, *, batches: int = 16, batch_size: int = 256,
                          seed: int = 0, device: torch.device | str = "cpu", num_classes: int = 0) -> nn.Module:
    """Re-estimate the batch-norm statistics of (a copy of) an EMA generator.

    EMA-averaged weights come with the running statistics of the last raw generator, which do not
    match them; a few seeded forward passes in train mode with cumulative averaging fix that.
    Returns ``generator`` (modified in place) in eval mode.
    """
    bns = [m for m in generator.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return generator.eval()
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    generator.train()
    g = torch.Generator().manual_seed(seed)
    for _ in range(batches):
        z = torch.randn(batch_size, latent_dim, generator=g).to(device)
        if num_classes:
            y = torch.randint(0, num_classes, (batch_size,), generator=g).to(device)
            generator(z, y)
        else:
            generator(z)
    for m, mom in zip(bns, saved):
        m.momentum = mom
    return generator.eval()


def _load_data(config: TrainConfig, image_size: int, channels: int, conditional: bool
               ) -> tuple[torch.Tensor, torch.Tensor | None]:
    from ..data.mnist import load_mnist

    if len(config.sources) > 1 or any(s in ("photos", "dead-leaves") for s in config.sources):
        raise TrainingError(f"a GAN trains on one folder of images or MNIST IDX files, got --data "
                            f"{' '.join(config.sources)}; 'photos' and 'dead-leaves' are restoration sources")
    images, labels = load_mnist(config.data, size=image_size, channels=channels)
    if images.shape[0] == 0:
        raise TrainingError(f"no training images found in {config.data}")
    if tuple(images.shape[1:]) != (channels, image_size, image_size):
        raise TrainingError(f"training images are {tuple(images.shape[1:])}, the model needs "
                            f"{(channels, image_size, image_size)}; pass image_size=/channels= in extra")
    if conditional and labels is None:
        raise TrainingError(f"a class-conditional model needs labelled data; {config.data} has no labels "
                            "(use IDX files with their labels file, or the default MNIST subset)")
    return images.contiguous(), labels


class GANTrainer:
    """The GAN :class:`~pixelsmith.training.Trainer`: G and D with Adam each, the EMA generator, the
    non-saturating loss, DiffAugment and R1 as the options say; sample grids as its validation and
    ``generator.safetensors`` (EMA weights) as its export.

    ``build_generator()`` returns a module ``G(z[, labels]) -> B×C×H×W`` in [0, 1];
    ``build_discriminator()`` one ``D(x[, labels]) -> B`` (or ``B×1``) logits. ``model_config`` (JSON-able)
    is stored in every file written so the plugin can rebuild the architecture from a weights file.
    Checkpoints hold ``G.*``, ``D.*``, ``G_ema.*``, ``optim.G``/``optim.D`` and ``rng.torch``.
    """

    def __init__(self, config: TrainConfig, *, component: str, build_generator: Callable[[], nn.Module],
                 build_discriminator: Callable[[], nn.Module], latent_dim: int, image_size: int, channels: int,
                 conditional: bool = False, model_config: Mapping[str, Any] | None = None,
                 defaults: Mapping[str, Any] | None = None) -> None:
        self.config, self.component = config, component
        self.build_generator, self.build_discriminator = build_generator, build_discriminator
        self.latent_dim, self.image_size, self.channels = latent_dim, image_size, channels
        self.conditional = conditional
        self.opts = _settings(config, defaults or {})
        model_config = dict(model_config or {})
        model_config.update({"latent_dim": latent_dim, "image_size": image_size, "channels": channels,
                             "conditional": conditional})
        self.num_classes = int(self.opts["num_classes"]) if conditional else 0
        if conditional:  # unconditional configs stay as before, so runs written by earlier versions resume
            model_config["num_classes"] = self.num_classes
        # for a class-conditional model, self_condition is the number of clusters *within* each class
        self.self_condition = int(self.opts["self_condition"])
        if self.self_condition:
            model_config["self_condition"] = self.self_condition
        self.model_config = model_config
        self.log_every = max(1, int(self.opts["log_every"]))  # steps between loss read-outs (host syncs)

    def setup(self, session: TrainingSession, checkpoint: Checkpoint | None) -> None:
        config, opts = self.config, self.opts
        device = session.device
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        images, labels = _load_data(config, self.image_size, self.channels, self.conditional)
        self.n = images.shape[0]
        k = self.self_condition
        cluster_sizes: torch.Tensor | None = None
        if k and self.conditional:  # the classes' own clusters; the networks see the fine labels
            try:
                labels, cluster_sizes = cluster_within_classes(images, labels, self.num_classes, k, seed=config.seed)
            except ValueError as exc:
                raise TrainingError(f"self_condition={k}: {exc}") from exc
            session.say(f"self-conditioning within classes: {self.n} images, {k} clusters in each of "
                        f"{self.num_classes} classes, {int(cluster_sizes.min())}–{int(cluster_sizes.max())} images "
                        f"each (k-means on principal components, seed {config.seed})")
        elif k:
            if k > self.n:
                raise TrainingError(f"self_condition={k} asks for more clusters than there are images ({self.n})")
            labels, cluster_sizes = cluster_images(images, k, seed=config.seed)
            session.say(f"self-conditioning: {self.n} images in {k} clusters of {int(cluster_sizes.min())}–"
                        f"{int(cluster_sizes.max())} images (k-means on principal components, seed {config.seed})")
        self.images = images.to(device)
        self.labels = labels.to(device) if labels is not None else None

        torch.manual_seed(session.derive_seed("init"))  # same initial weights on every rank
        g_raw, d_raw = self.build_generator(), self.build_discriminator()
        if k:
            wrapper = SubclassConditionedGenerator if self.conditional else SelfConditionedGenerator
            if not isinstance(g_raw, wrapper) or g_raw.clusters != k:
                raise TrainingError(f"self_condition={k} needs a {wrapper.__name__} over {k} clusters from "
                                    f"build_generator(), got {type(g_raw).__name__}")
            g_raw.set_cluster_sizes(cluster_sizes)
        self.G, self.D = session.wrap(g_raw), session.wrap(d_raw)
        self.g_raw, self.d_raw = g_raw, d_raw = session.unwrap(self.G), session.unwrap(self.D)
        self.betas = betas = (float(opts["beta1"]), float(opts["beta2"]))
        self.opt_g = torch.optim.Adam(g_raw.parameters(), lr=opts["lr"], betas=betas)
        self.opt_d = torch.optim.Adam(d_raw.parameters(), lr=opts["lr"], betas=betas)
        self.ema = EMA(g_raw, decay=float(opts["ema_decay"]))
        self.d_params = list(d_raw.parameters())

        start = 0
        recorded: tuple[bool, str] | None = None
        if checkpoint is not None:
            stored = checkpoint.json("model_config", None)
            if stored is not None and stored != self.model_config:
                raise TrainingError(f"{checkpoint.path} holds a model {stored}, this run asks for {self.model_config}; "
                                    "use the same extra options or another --out")
            bounds = _cluster_bounds(g_raw).clone() if k else None
            checkpoint.load_module("G", g_raw)
            if bounds is not None and not torch.equal(bounds, _cluster_bounds(g_raw)):
                raise TrainingError(f"{checkpoint.path}: its clusters differ from those of this run's data "
                                    f"(self_condition={k}, seed {config.seed}); resume with the same --data and --seed")
            checkpoint.load_module("D", d_raw)
            checkpoint.load_module("G_ema", self.ema.shadow)
            checkpoint.load_optimizer("G", self.opt_g)
            checkpoint.load_optimizer("D", self.opt_d)
            if config.lr is not None:  # an explicit --lr on resume wins over the checkpoint's
                for group in (*self.opt_g.param_groups, *self.opt_d.param_groups):
                    group["lr"] = float(config.lr)
            self.ema.updates = int(checkpoint.metadata.get("ema_updates", "0"))
            # checkpoints without the record predate the switch: DiffAugment's translation,cutout was on
            recorded = (bool(checkpoint.json("augment", True)),
                        checkpoint.metadata.get("augment_policy", "translation,cutout"))
            start = checkpoint.step

        policy, policy_reason = _augment_policy(config, str(opts["augment_policy"]), self.channels, recorded)
        opts["augment_policy"] = policy
        self.augment = _augmenter(config, policy)
        self.fixed_z = torch.randn(64, self.latent_dim, generator=torch.Generator().manual_seed(config.seed)).to(device)
        self.fixed_y = (torch.arange(64, device=device) % self.num_classes) if self.conditional else None
        self.r1 = float(opts["r1"])
        self.info_meta = {"model_config": self.model_config, "trainer": "pixelsmith.training.gan",
                          "augment": self.augment is not None,
                          "augment_policy": opts["augment_policy"] if self.augment else "",
                          "r1": self.r1, "self_condition": k,
                          **({"cluster_sizes": cluster_sizes.tolist()} if k else {}),
                          "lr": opts["lr"], "betas": list(betas), "ema_decay": opts["ema_decay"],
                          "batch_size": config.batch_size, "effective_batch_size": session.effective_batch_size}
        # a signal is checked every step on one process, every 10 under torchrun (a collective each time)
        self.stop_check_every = 1 if not session.distributed else 10
        session.say(f"training {self.component}: {self.n} images {tuple(images.shape[1:])}, batch {config.batch_size} "
                    f"(effective {session.effective_batch_size}), steps {start}→{config.steps}, device {device}, "
                    f"augment {'on (' + policy + ')' if self.augment else 'off'} ({policy_reason}), r1 {self.r1}"
                    + (f", self-conditioned on {k} clusters" if k else ""))
        self.G.train()
        self.D.train()

    def step(self, session: TrainingSession, step: int) -> dict[str, torch.Tensor]:
        G, D, d_raw, augment, conditional = self.G, self.D, self.d_raw, self.augment, self.conditional
        b, device, r1 = self.config.batch_size, session.device, self.r1
        torch.manual_seed(session.derive_seed(session.rank, step, "global"))  # dropout etc.
        idx = session.batch_indices(step, self.n).to(device)
        real = self.images.index_select(0, idx)
        gen = session.step_generator(step, "latent")
        z = torch.randn(b, self.latent_dim, generator=gen).to(device)
        y_real = y_fake = None
        d_conditional = conditional or self.self_condition > 0  # D judges (image, class or cluster)
        y_class = None  # what G is asked for; y_fake is what D is told (the fine label when self-conditioned)
        if conditional:
            y_real = self.labels.index_select(0, idx)
            y_class = y_fake = torch.randint(0, self.num_classes, (b,), generator=gen).to(device)
            if self.self_condition:  # the cluster within the class each latent draws, as G itself picks it
                y_fake = self.g_raw.fine_labels(z, y_class)
        elif d_conditional:  # the cluster each latent draws, as G itself picks it
            y_real = self.labels.index_select(0, idx)
            y_fake = self.g_raw.cluster_of(z)
        aug_gen = session.step_generator(step, "augment")

        # -- discriminator: real vs detached fake, one forward over both halves ------------------
        fake = G(z, y_class) if conditional else G(z)
        x = torch.cat([real, fake.detach()])
        if augment is not None:
            x = augment(x, aug_gen)
        if r1 > 0:
            x = x.detach().requires_grad_(True)
        y_cat = torch.cat([y_real, y_fake]) if d_conditional else None
        logits = (D(x, y_cat) if d_conditional else D(x)).reshape(-1)
        loss_d = F.softplus(-logits[:b]).mean() + F.softplus(logits[b:]).mean()
        if r1 > 0:
            (grad,) = torch.autograd.grad(logits[:b].sum(), x, create_graph=True)
            penalty = grad[:b].square().sum(dim=(1, 2, 3)).mean()
            loss_d = loss_d + 0.5 * r1 * penalty
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()

        # -- generator: non-saturating loss through a frozen D (no wasted D weight gradients) ----
        for p in self.d_params:
            p.requires_grad_(False)
        x_fake = augment(fake, session.step_generator(step, "augment-g")) if augment is not None else fake
        logits_g = (d_raw(x_fake, y_fake) if d_conditional else d_raw(x_fake)).reshape(-1)
        loss_g = F.softplus(-logits_g).mean()
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        for p in self.d_params:
            p.requires_grad_(True)
        self.ema.update(self.g_raw)
        # read (a host sync) only on logging steps, by the driver
        return {"loss_d": loss_d.detach(), "loss_g": loss_g.detach(),
                "d_real": torch.sigmoid(logits[:b].detach()).mean(), "d_fake": torch.sigmoid(logits[b:].detach()).mean()}

    def validate(self, session: TrainingSession, step: int) -> dict[str, float]:
        """A grid of 64 samples of the EMA generator (batch-norm statistics re-estimated), fixed latents."""
        g_eval = recalibrate_batchnorm(copy.deepcopy(self.ema.shadow), self.latent_dim, batches=4, batch_size=128,
                                       seed=self.config.seed, device=session.device, num_classes=self.num_classes)
        with torch.no_grad():
            imgs = g_eval(self.fixed_z, self.fixed_y) if self.conditional else g_eval(self.fixed_z)
        _save_grid(imgs.float().cpu(), session.out / f"samples-{step:08d}.png")
        return {}

    def checkpoint_parts(self, session: TrainingSession, step: int) -> CheckpointParts:
        return CheckpointParts(modules={"G": self.g_raw, "D": self.d_raw, "G_ema": self.ema.shadow},
                               optimizers={"G": self.opt_g, "D": self.opt_d},
                               rng={"torch": torch.get_rng_state()},
                               metadata={**self.info_meta, "ema_updates": str(self.ema.updates)})

    def export(self, session: TrainingSession, run: RunResult) -> Path:
        """``generator.safetensors`` (the EMA generator) unless the run was stopped; returns the last checkpoint."""
        if not run.stopped and session.is_main:
            gen_path = session.out / GENERATOR_FILE
            sha = _write_generator(gen_path, copy.deepcopy(self.ema.shadow), {
                "component": self.component, "step": str(run.step), "model_config": self.model_config,
                "ema_updates": str(self.ema.updates), "seed": str(self.config.seed),
                "augment": self.augment is not None, "r1": self.r1}, seed=self.config.seed, device=session.device)
            session.say(f"wrote {gen_path} (EMA generator at step {run.step})")
            if not self.config.quiet:
                print(f"{gen_path}  sha256 {sha}", file=sys.stdout, flush=True)
        return run.checkpoint or session.out


def _cluster_bounds(g: nn.Module) -> torch.Tensor:
    """The cluster shares a self-conditioned generator draws from (either wrapper)."""
    return g.subcluster_bounds if isinstance(g, SubclassConditionedGenerator) else g.cluster_bounds


def train_gan(config: TrainConfig, *, component: str, build_generator: Callable[[], nn.Module],
              build_discriminator: Callable[[], nn.Module], latent_dim: int, image_size: int, channels: int,
              conditional: bool = False, model_config: Mapping[str, Any] | None = None,
              defaults: Mapping[str, Any] | None = None) -> Path:
    """Train a GAN (:class:`GANTrainer` on :func:`~pixelsmith.training.run_trainer`); return the last
    checkpoint. Also writes ``generator.safetensors`` (EMA weights) unless stopped by a signal."""
    return run_trainer(config, GANTrainer(
        config, component=component, build_generator=build_generator, build_discriminator=build_discriminator,
        latent_dim=latent_dim, image_size=image_size, channels=channels, conditional=conditional,
        model_config=model_config, defaults=defaults))


def _write_generator(path: Path, g_ema: nn.Module, metadata: Mapping[str, Any], *, seed: int = 0,
                     device: torch.device | str = "cpu", half: bool = False) -> str:
    cfg = metadata["model_config"]
    num_classes = int(cfg.get("num_classes", 0)) if cfg.get("conditional") else 0
    recalibrate_batchnorm(g_ema, int(cfg["latent_dim"]), seed=seed, device=device, num_classes=num_classes)
    state = g_ema.state_dict()
    if half:  # storage only: loaders compute in float32
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    return save_weights(path, state, {"format": "pixelsmith-generator-1", **metadata,
                                      **({"storage_dtype": "float16"} if half else {})})


def export_generator(checkpoint: str | Path, out: str | Path,
                     build_generator: Callable[[dict[str, Any]], nn.Module], *, half: bool = False) -> str:
    """Write the EMA generator of a training checkpoint as a shippable ``generator.safetensors``.

    The same file the end of training writes (batch-norm statistics re-estimated, ``model_config``
    stored); ``build_generator(model_config)`` builds the architecture. ``half`` stores the tensors
    in float16 (half the size; loading computes in float32). Returns the sha256.
    """
    from .checkpoint import load_checkpoint

    ckpt = load_checkpoint(checkpoint)
    cfg = ckpt.json("model_config")
    if cfg is None:
        raise TrainingError(f"{checkpoint} has no model_config; it was not written by the GAN trainer")
    g = build_generator(cfg)
    ckpt.load_module("G_ema", g)
    meta = {"component": ckpt.metadata.get("component", ""), "step": str(ckpt.step), "model_config": cfg,
            "ema_updates": ckpt.metadata.get("ema_updates", "0"), "seed": ckpt.metadata.get("seed", "0"),
            "augment": ckpt.json("augment", None), "r1": ckpt.json("r1", 0.0), "exported_from": Path(checkpoint).name}
    return _write_generator(Path(out), g, meta, seed=int(meta["seed"]), half=half)


def read_model_config(path: str | Path) -> dict[str, Any]:
    """The architecture stored in a generator or checkpoint file by :func:`train_gan`."""
    from ..weights import read_metadata

    meta = read_metadata(path)
    if "model_config" not in meta:
        raise TrainingError(f"{path} has no model_config metadata; it was not written by pixelsmith's GAN trainer")
    return json.loads(meta["model_config"])
