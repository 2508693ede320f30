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

import math
from pathlib import Path
from typing import Mapping

import torch
import torch.nn.functional as F

from pixelsmith.plugin import NetworkTrainer, TrainConfig, TrainingSession, load_training_images, run_trainer

from .kernel_estimator import KernelEstimatorNet, blur_spectrum, split_outputs, targets_from_blurs

__all__ = ["train_kernel_estimator", "KernelEstimatorTrainer", "CROP_RANGE"]

#: Side of the training crops, drawn uniformly per sample.
CROP_RANGE = (96, 256)


def _draw_samples(images: list[torch.Tensor], n: int, rng: torch.Generator, augment: bool,
                  fixed_crop: int | None = None) -> tuple[torch.Tensor, list[dict]]:
    """n (spectrum, blur record) pairs, every draw from ``rng``."""
    from pixelsmith.plugin import blur_margin, draw_degradation

    margin = blur_margin("deblur")
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
            from pixelsmith.plugin import paired_augment

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


class KernelEstimatorTrainer(NetworkTrainer):
    """The kernel estimator on the core's one-network trainer (Adam, EMA, warm-up + cosine)."""

    component = "deblur-kernel-estimator"
    weights_component = "deblur"
    task = "kernel-estimation"
    weights_name = "kernel-estimator.safetensors"
    lr_min, warmup, ema_decay = 1e-5, 200, 0.998

    def load_data(self, session: TrainingSession) -> None:
        self.train_imgs, val_imgs, self.data_description = load_training_images(self.config.data, channels=1)
        self.val_spectra, val_blurs = _draw_samples(val_imgs, 128, torch.Generator().manual_seed(self.config.seed + 999),
                                                    augment=False, fixed_crop=192)
        self.val_t = targets_from_blurs(val_blurs)

    def build(self, session: TrainingSession) -> KernelEstimatorNet:
        return KernelEstimatorNet(width=int(self.extra.get("width", 32)))

    def summary(self, session: TrainingSession, start: int) -> str:
        return (f"training the deblur kernel estimator on {self.data_description}; crops {CROP_RANGE[0]}–{CROP_RANGE[1]} "
                f"px, batch {session.effective_batch_size}, steps {start}→{self.config.steps}, device {session.device}")

    def loss(self, session: TrainingSession, step: int, model: torch.nn.Module) -> torch.Tensor:
        spectra, blurs = _draw_samples(self.train_imgs, self.config.batch_size, session.step_generator(step, "data"),
                                       augment=self.config.augment)
        targets = {k: v.to(session.device) for k, v in targets_from_blurs(blurs).items()}
        return _loss(model(spectra.to(session.device)), targets)

    def evaluate(self, session: TrainingSession, model: torch.nn.Module) -> dict[str, float]:
        return _scores(model(self.val_spectra.to(session.device)), self.val_t)

    def describe(self, values: Mapping[str, float]) -> str:
        return ", ".join(f"{k[4:]} {v:.3f}" for k, v in values.items())


def train_kernel_estimator(config: TrainConfig) -> Path:
    """Train the kernel estimator as ``config`` says; returns the path of ``kernel-estimator.safetensors``."""
    return run_trainer(config, KernelEstimatorTrainer(config))
