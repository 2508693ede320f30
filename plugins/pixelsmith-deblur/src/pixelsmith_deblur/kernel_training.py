"""``pixelsmith train deblur part=kernel-estimator``: train the blind kernel estimator.

Each sample is a sharp crop of a training photograph (96–256 px a side, so the estimator sees
Welch spectra averaged over few and over many windows), augmented with the core's Kornia
geometric + photometric preset, then blurred and noised by the same draw the deblurring model
trains on (:func:`pixelsmith.training.restoration.draw_degradation`: Gaussian σ ∈ [0.5, 3] or
motion length 3–15 at any angle, noise up to 0.02). The loss is cross-entropy on the blur family
and on the motion length, L1 on the Gaussian σ and squared error on the doubled motion angle.
Adam with warm-up and cosine decay, EMA weights, validation on fixed draws from the held-out
photographs, rotated checkpoints, ``--resume``; writes ``kernel-estimator.safetensors``.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from pixelsmith.training import TrainConfig

from .kernel_estimator import KernelEstimatorNet, blur_spectrum, split_outputs, targets_from_blurs

__all__ = ["train_kernel_estimator", "CROP_RANGE"]

#: Side of the training crops, drawn uniformly per sample.
CROP_RANGE = (96, 256)


def _draw_samples(images: list[torch.Tensor], n: int, rng: torch.Generator, augment: bool,
                  fixed_crop: int | None = None) -> tuple[torch.Tensor, list[dict]]:
    """n (spectrum, blur record) pairs, every draw from ``rng``."""
    from pixelsmith.training.restoration import _blur_margin, draw_degradation

    margin = _blur_margin("deblur")
    spectra, blurs = [], []
    for _ in range(n):
        crop = fixed_crop or int(torch.randint(CROP_RANGE[0], CROP_RANGE[1] + 1, (1,), generator=rng))
        size = crop + 2 * margin
        im = images[int(torch.randint(0, len(images), (1,), generator=rng))]
        h, w = im.shape[-2:]
        # small images (the 172-px-high `text` photo, user images): mirror them out at the bottom/right,
        # repeating the edge when too small. Not pixelsmith.tiling.pad_to_min_size (which pads evenly):
        # that would change the crops the shipped estimator was trained on.
        if h < size or w < size:
            ph, pw = max(0, size - h), max(0, size - w)
            im = F.pad(im, (0, pw, 0, ph), mode="reflect" if ph < h and pw < w else "replicate")
            h, w = im.shape[-2:]
        y = int(torch.randint(0, h - size + 1, (1,), generator=rng))
        x = int(torch.randint(0, w - size + 1, (1,), generator=rng))
        patch = im[:, :, y:y + size, x:x + size]
        if augment:
            from pixelsmith.augment import paired_augment

            patch = paired_augment(patch, patch, preset="geometric+photometric",
                                   seed=int(torch.randint(0, 2**62, (1,), generator=rng)))[0].clamp(0, 1)
        draw = draw_degradation("deblur", patch, rng, margin)
        spectra.append(blur_spectrum(draw.image))
        blurs.append(dict(draw.blur or {}))
    return torch.cat(spectra), blurs


def _loss(out: torch.Tensor, t: dict[str, torch.Tensor]) -> torch.Tensor:
    fam, sig, lens, ang = split_outputs(out)
    gauss, motion = t["family"] == 0, t["family"] == 1
    loss = F.cross_entropy(fam, t["family"])
    if gauss.any():
        loss = loss + 4.0 * F.l1_loss(sig[gauss], t["sigma"][gauss])
    if motion.any():
        loss = loss + F.cross_entropy(lens[motion], t["length"][motion])
        loss = loss + F.mse_loss(ang[motion], t["angle"][motion])
    return loss


def _scores(out: torch.Tensor, t: dict[str, torch.Tensor]) -> dict[str, float]:
    fam, sig, lens, ang = split_outputs(out.float().cpu())
    gauss, motion = t["family"] == 0, t["family"] == 1
    values = {"val_family_acc": float((fam.argmax(-1) == t["family"]).float().mean())}
    if gauss.any():
        values["val_sigma_mae"] = float((sig[gauss].clamp(0, 1) - t["sigma"][gauss]).abs().mean() * 2.5)
    if motion.any():
        values["val_length_acc"] = float((lens[motion].argmax(-1) == t["length"][motion]).float().mean())
        pred = torch.atan2(ang[motion, 1], ang[motion, 0])
        true = torch.atan2(t["angle"][motion, 1], t["angle"][motion, 0])
        diff = torch.remainder(pred - true + math.pi, 2 * math.pi) - math.pi  # doubled angle
        values["val_angle_mae_deg"] = float(torch.rad2deg(diff.abs()).mean() / 2)
    return values


def train_kernel_estimator(config: TrainConfig) -> Path:
    """Train the kernel estimator as ``config`` says; returns the path of ``kernel-estimator.safetensors``."""
    from pixelsmith.training.trainee import Trainee
    from pixelsmith.training.restoration import cosine_lr, export_weights, load_training_images
    from pixelsmith.training.session import TrainingSession

    extra = dict(config.extra or {})
    lr0 = float(config.lr if config.lr is not None else 1e-3)
    lr_min, warmup = 1e-5, 200
    horizon = int(extra.get("schedule_steps", config.steps))
    component = "deblur-kernel-estimator"
    with TrainingSession(config, component) as session:
        torch.manual_seed(config.seed)
        train_imgs, val_imgs, described = load_training_images(config.data, channels=1)
        val_spectra, val_blurs = _draw_samples(val_imgs, 128, torch.Generator().manual_seed(config.seed + 999),
                                               augment=False, fixed_crop=192)
        val_t = targets_from_blurs(val_blurs)

        base = KernelEstimatorNet(width=int(extra.get("width", 32)))
        model_config = json.dumps(base.config)
        state = Trainee.prepare(session, base, lr=lr0, ema_decay=0.998)
        model, ema, opt, start = state.model, state.ema, state.opt, state.start
        session.say(f"training the deblur kernel estimator on {described}; crops {CROP_RANGE[0]}–{CROP_RANGE[1]} px, "
                    f"batch {session.effective_batch_size}, steps {start}→{config.steps}, device {session.device}")

        def checkpoint(step: int) -> Path | None:
            return state.checkpoint(session, step, {"model_config": model_config, "task": "kernel-estimation"})

        def validate(step: int) -> dict[str, float]:
            with torch.no_grad():
                values = _scores(ema.shadow(val_spectra.to(session.device)), val_t)
            session.log(step, **values)
            session.say(f"step {step}: " + ", ".join(f"{k[4:]} {v:.3f}" for k, v in values.items()))
            return values

        def train_step(step: int) -> None:
            lr = cosine_lr(step, lr0, lr_min, warmup, horizon)
            for group in opt.param_groups:
                group["lr"] = lr
            spectra, blurs = _draw_samples(train_imgs, config.batch_size, session.step_generator(step, "data"),
                                           augment=config.augment)
            targets = {k: v.to(session.device) for k, v in targets_from_blurs(blurs).items()}
            model.train()
            loss = _loss(model(spectra.to(session.device)), targets)
            state.step(loss)
            session.step_done(step, loss=float(loss.detach()), lr=lr)

        started = time.monotonic()
        step, values = session.run_steps(start, train_step, checkpoint, validate)
        out = config.out / "kernel-estimator.safetensors"
        if session.is_main:
            meta = {"component": "deblur", "task": "kernel-estimation", "model_config": model_config,
                    "steps": str(step), "batch_size": str(session.effective_batch_size), "data": described,
                    "seconds_this_run": f"{time.monotonic() - started:.1f}",
                    **{k: f"{v:.4f}" for k, v in values.items()}}
            sha = export_weights(out, ema.shadow, dtype=torch.float16, metadata=meta)
            session.say(f"wrote {out} (EMA weights, step {step})")
            print(f"sha256 {sha}  {out}", flush=True)
        return out
