"""The restoration trainer shared by the denoising, impulse and deblurring plugins.

A plugin describes its model with a :class:`RestorationRecipe` (which task, how to build the network,
how to stack the degraded image and the known parameters into the network input) and calls
:func:`train_restorer`. Everything else is here:

- data: the bundled training photographs (never the test split) or ``--data PATH``, preloaded once as
  tensors; two photographs are held out of patch sampling for validation;
- per patch, a degradation from the core's seeded degradation plugins with its level or kernel drawn
  at random (σ ∈ [0, 55/255] for blind denoising; Gaussian σ ∈ [0.5, 3] or motion length 3–15 at a random
  angle, plus noise up to 0.02, for deblurring; salt-and-pepper amounts for impulse noise);
- each patch's parameters are shown to the network with probability ``known_prob`` and hidden
  otherwise, so one model works blind and better when told;
- the core's Kornia paired augmentation, identical for the clean target and the network input, on the
  training device;
- Adam with warm-up and a cosine schedule, EMA weights, validation PSNR/SSIM on fixed seeded crops of
  the held-out photographs, progress, rotated safetensors checkpoints, exact ``--resume`` (every draw
  comes from the session's per-step generators), a final checkpoint on SIGINT/SIGTERM, DDP under
  torchrun;
- at the end ``restorer.safetensors`` (EMA weights, model config in the metadata) and its sha256.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import TrainingError
from ..tiling import pad_to_min_size
from .config import TrainConfig
from .session import TrainingSession
from .trainee import NetworkTrainer, cosine_lr, export_weights
from .trainer import RunResult, run_trainer

__all__ = [
    "RestorationRecipe",
    "DegradationDraw",
    "train_restorer",
    "RestorationTrainer",
    "draw_degradation",
    "blur_margin",
    "VALIDATION_PHOTOS",
    "NOISE_SIGMA_MAX",
    "load_training_images",
    "data_sources",
    "export_weights",
    "export_from_checkpoint",
    "cosine_lr",
]

#: Training-split photographs held out of patch sampling and used for validation (never the test split).
VALIDATION_PHOTOS = ("clock", "rocket")
#: Blind denoising is trained on σ uniform in [0, NOISE_SIGMA_MAX].
NOISE_SIGMA_MAX = 55.0 / 255.0
BLUR_SIGMA_RANGE = (0.5, 3.0)
MOTION_LENGTH_RANGE = (3, 15)
DEBLUR_NOISE_MAX = 0.02
IMPULSE_AMOUNT_RANGE = (0.0, 0.5)


@dataclass
class DegradationDraw:
    """One degraded patch and what was done to it (what the network may be told)."""

    image: torch.Tensor                   # 1×C×h×w
    sigma: float = float("nan")           # Gaussian noise σ (nan: none drawn)
    kernel: torch.Tensor | None = None    # blur kernel k×k, sums to 1
    amount: float = float("nan")          # salt-and-pepper fraction
    blur: Mapping[str, Any] | None = None  # the blur drawn: {"name": degradation name, its parameters...}


@dataclass(frozen=True)
class RestorationRecipe:
    """What a plugin tells the trainer about its model.

    ``prepare(degraded, sigma, kernels)`` stacks the degraded batch (B×C×h×w) with what is known:
    ``sigma`` is a tensor ``[B]`` with NaN where unknown, ``kernels`` a list of kernels or ``None``
    where unknown. The network maps that input to a residual added to the degraded image. The
    restorer calls the same ``prepare`` at inference, so training and inference cannot drift apart.
    """

    component: str
    task: str                                              # "denoise" | "impulse" | "deblur"
    make_model: Callable[[], nn.Module]                    # a module with a JSON-able ``config`` dict
    prepare: Callable[[torch.Tensor, torch.Tensor, list], torch.Tensor]
    channels: int = 1
    patch: int = 64
    known_prob: float = 0.5
    lr: float = 1e-3
    lr_min: float = 2e-5
    warmup: int = 100
    ema_decay: float = 0.999
    weights_dtype: torch.dtype = torch.float16
    metadata: Mapping[str, Any] = field(default_factory=dict)


# -- degradations -------------------------------------------------------------------------------------

def _seed(rng: torch.Generator) -> int:
    return int(torch.randint(0, 2**62, (1,), generator=rng))


def _uniform(rng: torch.Generator, lo: float, hi: float) -> float:
    return lo + (hi - lo) * float(torch.rand((), generator=rng))


def _apply(name: str, x: torch.Tensor, rng: torch.Generator, **params: Any):
    from ..api import degradation

    return degradation(name, **params).apply(x, seed=_seed(rng))


def _kernel_of(degraded, fallback: Callable[[], torch.Tensor]) -> torch.Tensor:
    k = degraded.truth.get("kernel")  # the kernel applied, in the restorers' vocabulary (Degraded.truth)
    if isinstance(k, torch.Tensor):
        return k.detach().float().reshape(k.shape[-2:]).cpu()
    return fallback()


def draw_degradation(task: str, patch: torch.Tensor, rng: torch.Generator, margin: int = 0,
                     unclipped: float = 0.0) -> DegradationDraw:
    """Degrade one 1×C×h×w patch with a level/kernel drawn from ``rng``.

    ``margin`` pixels on every side are context for blur kernels and are cropped away afterwards,
    so the blurred patch has no artificial border. ``unclipped``: the chance that denoising noise is
    left unclipped (values outside [0, 1], the literature's protocol); 0 draws nothing extra, so
    runs made before the option existed resume with the same patches.
    """
    def crop(t: torch.Tensor) -> torch.Tensor:
        return t[..., margin:t.shape[-2] - margin, margin:t.shape[-1] - margin] if margin else t

    if task == "denoise":
        sigma = _uniform(rng, 0.0, NOISE_SIGMA_MAX)
        clip = not (unclipped > 0 and float(torch.rand((), generator=rng)) < unclipped)
        x = crop(patch)
        noisy = _apply("gaussian-noise", x, rng, sigma=sigma, clip=clip)
        return DegradationDraw(noisy.image, sigma=float(noisy.truth["sigma"]))
    if task == "impulse":
        amount = _uniform(rng, *IMPULSE_AMOUNT_RANGE)
        x = crop(patch)
        corrupted = _apply("salt-and-pepper", x, rng, amount=amount)
        return DegradationDraw(corrupted.image, amount=float(corrupted.truth["amount"]))
    if task == "deblur":
        from ..degradations import kernels

        if float(torch.rand((), generator=rng)) < 0.5:
            s = _uniform(rng, *BLUR_SIGMA_RANGE)
            blurred = _apply("gaussian-blur", patch, rng, sigma=s)
            kernel = _kernel_of(blurred, lambda: kernels.gaussian_kernel(s))
            blur: dict[str, Any] = {"name": "gaussian-blur", "sigma": s}
        else:
            lo, hi = MOTION_LENGTH_RANGE  # odd lengths only (the kernel is length×length)
            length = lo + 2 * int(torch.randint(0, (hi - lo) // 2 + 1, (1,), generator=rng))
            angle = _uniform(rng, 0.0, 180.0)
            blurred = _apply("motion-blur", patch, rng, length=length, angle=angle)
            kernel = _kernel_of(blurred, lambda: kernels.motion_kernel(length, angle))
            blur = {"name": "motion-blur", "length": length, "angle": angle}
        sigma = _uniform(rng, 0.0, DEBLUR_NOISE_MAX)
        noisy = _apply("gaussian-noise", crop(blurred.image), rng, sigma=sigma).image
        return DegradationDraw(noisy, sigma=sigma, kernel=kernel, blur=blur)
    raise TrainingError(f"unknown restoration task {task!r}; expected denoise, impulse or deblur")


# -- data -----------------------------------------------------------------------------------------------

def data_sources(config: TrainConfig) -> list[str | Path]:
    """The ``--data`` sources of a run: ``config.sources``, else ``config.data`` (a folder), else the
    bundled photos."""
    if config.sources:
        return [str(s) for s in config.sources]
    return [config.data] if config.data is not None else ["photos"]


def load_training_images(data: Path | None, channels: int) -> tuple[list[torch.Tensor], list[torch.Tensor], str]:
    """(training images, validation images, description). Each image 1×C×H×W float32 on the CPU."""
    from .sources import PHOTOS, photo_images

    return photo_images(data if data is not None else PHOTOS, channels, set(), VALIDATION_PHOTOS)


def blur_margin(task: str) -> int:
    """Pixels to crop around a patch before :func:`draw_degradation` blurs it (``task`` "deblur"; 0
    otherwise), so the largest training blur never reaches the patch's borders."""
    return (max(MOTION_LENGTH_RANGE[1], int(math.ceil(3 * BLUR_SIGMA_RANGE[1])) * 2 + 1) // 2 + 1) if task == "deblur" else 0


_blur_margin = blur_margin  # the old private name, for code written against it


# -- validation -----------------------------------------------------------------------------------------

_VALIDATION_SETTINGS = {
    "denoise": {"sigma": 25.0 / 255.0},
    "impulse": {"amount": 0.2},
    "deblur": {"blur": "gaussian-blur", "blur_sigma": 2.0, "noise": 0.01},
}


def _validation_set(task: str, images: Sequence[torch.Tensor], seed: int, crop: int = 128,
                    per_image: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """Fixed seeded crops of the validation photographs and their degraded versions (blind)."""
    rng = torch.Generator().manual_seed(seed)
    margin = _blur_margin(task)
    size = crop + 2 * margin
    cleans, degs = [], []
    for im in images:
        im = pad_to_min_size(im, size)
        h, w = im.shape[-2:]
        for _ in range(per_image):
            y = int(torch.randint(0, h - size + 1, (1,), generator=rng))
            x = int(torch.randint(0, w - size + 1, (1,), generator=rng))
            p = im[:, :, y:y + size, x:x + size]
            inner = p[..., margin:margin + crop, margin:margin + crop] if margin else p
            s = _VALIDATION_SETTINGS[task]
            if task == "denoise":
                d = _apply("gaussian-noise", inner, rng, sigma=s["sigma"]).image
            elif task == "impulse":
                d = _apply("salt-and-pepper", inner, rng, amount=s["amount"]).image
            else:
                b = _apply(s["blur"], p, rng, sigma=s["blur_sigma"]).image
                b = b[..., margin:margin + crop, margin:margin + crop]
                d = _apply("gaussian-noise", b, rng, sigma=s["noise"]).image
            cleans.append(inner)
            degs.append(d)
    return torch.cat(cleans), torch.cat(degs)


def _metrics(pred: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    from ..api import metric

    return {"val_psnr": float(metric("psnr")(pred, target).mean()),
            "val_ssim": float(metric("ssim")(pred, target).mean())}


# -- the loop -------------------------------------------------------------------------------------------

def _forward(model: nn.Module, inp: torch.Tensor, channels: int) -> torch.Tensor:
    return inp[:, :channels] + model(inp)


def _batch(recipe: RestorationRecipe, sampler: Callable[[int, torch.Generator], list[torch.Tensor]], session: TrainingSession, step: int,
           margin: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(clean, network input) for ``step``, on the training device; a pure function of (seed, rank, step)."""
    rng = session.step_generator(step, "data")
    b = session.config.batch_size
    patches = sampler(b, rng)
    unclipped = float((session.config.extra or {}).get("unclipped", 0.0))
    draws = [draw_degradation(recipe.task, p, rng, margin, unclipped) for p in patches]
    known = torch.rand(b, generator=rng) < recipe.known_prob
    clean = torch.cat([p[..., margin:p.shape[-2] - margin, margin:p.shape[-1] - margin] if margin else p
                       for p in patches])
    degraded = torch.cat([d.image for d in draws])
    level = [d.sigma if recipe.task != "impulse" else d.amount for d in draws]
    sigma = torch.tensor([lv if k else float("nan") for lv, k in zip(level, known.tolist())])
    kernels = [d.kernel if k else None for d, k in zip(draws, known.tolist())]
    inp = recipe.prepare(degraded, sigma, kernels)
    clean, inp = clean.to(session.device), inp.to(session.device)
    if session.config.augment:
        from ..augment import paired_augment

        seed = _seed(rng)
        if inp.shape[1] in (1, 3):
            clean, inp = paired_augment(clean, inp, preset="geometric", seed=seed)
        else:
            # a stack Kornia's image checks refuse (colour + level maps: 5 channels): the same
            # flips/quarter turns, channel by channel with one seed (identical parameters each time)
            parts = [paired_augment(clean, inp[:, i:i + 1], preset="geometric", seed=seed) for i in range(inp.shape[1])]
            clean, inp = parts[0][0], torch.cat([p[1] for p in parts], dim=1)
    return clean, inp


def _warm_start(base: nn.Module, path: Path, model_config: str) -> None:
    """Load a restorer weights file into a fresh network (``init=PATH``): fine-tuning a shipped model
    on new data. The file's model_config must be the network's (pass the same widths=/unshuffle=)."""
    from ..weights import load_into, load_weights, read_metadata

    if not path.is_file():
        raise TrainingError(f"init={path}: no such weights file")
    meta = read_metadata(path)
    if json.loads(meta.get("model_config", "{}")) != json.loads(model_config):
        raise TrainingError(f"init={path} holds a network {meta.get('model_config')} but this run builds "
                            f"{model_config}; pass matching widths=/unshuffle=/blocks=/channels=")
    load_into(base, {k: v.float() for k, v in load_weights(path).items()}, source=str(path))


class RestorationTrainer(NetworkTrainer):
    """The :class:`~pixelsmith.training.Trainer` of a :class:`RestorationRecipe`: degraded patches with
    their parameters sometimes known, L1 (or ``loss=l2``) on the restored patch, validation PSNR/SSIM."""

    weights_name = "restorer.safetensors"

    def __init__(self, config: TrainConfig, recipe: RestorationRecipe) -> None:
        super().__init__(config, lr=recipe.lr)
        extra = self.extra
        self.recipe = recipe
        self.component, self.task = recipe.component, recipe.task
        self.weights_dtype, self.ema_decay = recipe.weights_dtype, recipe.ema_decay
        self.patch = int(extra.get("patch", recipe.patch))
        self.lr_min, self.warmup = recipe.lr_min, recipe.warmup
        # schedule_start=S restarts the schedule at step S (warm-up, then cosine to the horizon): the way to
        # continue a finished run at a useful learning rate instead of the decayed one.
        self.schedule_start = int(extra.get("schedule_start", 0))
        losses = {"l1": F.l1_loss, "l2": F.mse_loss}
        loss_name = str(extra.get("loss", "l1"))
        if loss_name not in losses:
            raise TrainingError(f"loss={loss_name!r} is not one of {sorted(losses)}")
        self.loss_fn = losses[loss_name]
        self.margin = blur_margin(recipe.task)

    def load_data(self, session: TrainingSession) -> None:
        from .sources import build_patch_source

        self.sampler, val_imgs, self.data_description = build_patch_source(
            data_sources(self.config), self.extra, channels=self.recipe.channels, size=self.patch + 2 * self.margin,
            validation=VALIDATION_PHOTOS, device=session.device)
        self.val_clean, val_deg = _validation_set(self.task, val_imgs, seed=self.config.seed + 12345)
        self.val_inp = self.recipe.prepare(val_deg, torch.full((val_deg.shape[0],), float("nan")),
                                           [None] * val_deg.shape[0])

    def build(self, session: TrainingSession) -> nn.Module:
        base = self.recipe.make_model()
        init = self.extra.get("init")
        if init is not None and not self.config.resume:
            _warm_start(base, Path(str(init)), json.dumps(getattr(base, "config", {})))
            session.say(f"initialised from {init}")
        return base

    def summary(self, session: TrainingSession, start: int) -> str:
        return (f"training {self.component} ({self.task}) on {self.data_description}; "
                f"{self.patch}² patches, batch {session.effective_batch_size}, steps {start}→{self.config.steps}, "
                f"device {session.device}")

    def loss(self, session: TrainingSession, step: int, model: nn.Module) -> torch.Tensor:
        clean, inp = _batch(self.recipe, self.sampler, session, step, self.margin)
        return self.loss_fn(_forward(model, inp, self.recipe.channels), clean)

    def evaluate(self, session: TrainingSession, model: nn.Module) -> dict[str, float]:
        pred = _forward(model, self.val_inp.to(session.device), self.recipe.channels).clamp(0, 1)
        return _metrics(pred.cpu(), self.val_clean)

    def describe(self, values: Mapping[str, float]) -> str:
        return f"validation PSNR {values['val_psnr']:.2f} dB, SSIM {values['val_ssim']:.4f}"

    def export_metadata(self, session: TrainingSession, run: RunResult) -> dict[str, str]:
        init = self.extra.get("init")
        return {"channels": str(self.recipe.channels), "patch": str(self.patch),
                **({"init": str(init)} if init is not None else {}),
                **{k: str(v) for k, v in self.recipe.metadata.items()}}


def train_restorer(config: TrainConfig, recipe: RestorationRecipe) -> Path:
    """Train ``recipe`` as ``config`` says; returns the path of ``restorer.safetensors``."""
    return run_trainer(config, RestorationTrainer(config, recipe))


def export_from_checkpoint(checkpoint: str | Path, out: str | Path, *,
                           dtype: torch.dtype = torch.float16) -> str:
    """Write ``restorer.safetensors``-style weights (EMA, model config) from a training checkpoint.

    For taking weights out of a run that is still going; returns the sha256.
    """
    from ..weights import save_weights
    from .checkpoint import load_checkpoint

    ckpt = load_checkpoint(checkpoint)
    state = ckpt.state_dict("ema")
    if not state or "model_config" not in ckpt.metadata:
        raise TrainingError(f"{checkpoint} is not a restoration training checkpoint (no EMA weights/model_config)")
    state = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in state.items()}
    meta = {"component": ckpt.metadata.get("component", "?"), "task": ckpt.metadata.get("task", "?"),
            "model_config": ckpt.metadata["model_config"], "steps": str(ckpt.step),
            "exported_from": Path(checkpoint).name}
    return save_weights(out, state, meta)
