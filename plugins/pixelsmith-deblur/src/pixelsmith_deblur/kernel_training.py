"""``pixelsmith train deblur part=kernel-estimator``: train the blind kernel estimator.

Each sample is a sharp crop of a training photograph (96–256 px a side, so the estimator sees
Welch spectra averaged over few and over many windows), augmented with the core's Kornia
geometric + photometric preset, then blurred and noised by the same draw the deblurring model
trains on (:func:`pixelsmith.training.restoration.draw_degradation`: Gaussian σ ∈ [0.5, 3] or
motion length 3–15 at any angle, noise up to 0.02). ``no_blur=P`` leaves a share P of the samples
sharp (noise only), and the network gets a third family, "none"; ``heavy_noise=P`` adds to a share P of
the samples more noise, for a total σ of 0.02–:data:`HEAVY_NOISE_MAX` (blind restores meet heavily noisy
images: an estimator trained at ≤ 0.02 reads a sharp one under noise 0.1 as a short motion blur). Both
default to 0, which draws exactly as before. The loss is cross-entropy on the blur family
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

__all__ = ["train_kernel_estimator", "KernelEstimatorTrainer", "CROP_RANGE", "HEAVY_NOISE_MAX"]

#: Side of the training crops, drawn uniformly per sample.
CROP_RANGE = (96, 256)
#: ``heavy_noise=``: the largest total noise σ of the samples given extra noise (the bench's σ 50/255).
HEAVY_NOISE_MAX = 0.2
#: Noise σ of the samples left sharp (``no_blur=``) is uniform in [0, this]: the blurred ones' range.
SHARP_NOISE_MAX = 0.02


def _draw_samples(images: list[torch.Tensor], n: int, rng: torch.Generator, augment: bool,
                  fixed_crop: int | None = None, no_blur: float = 0.0,
                  heavy_noise: float = 0.0) -> tuple[torch.Tensor, list[dict]]:
    """n (spectrum, blur record) pairs, every draw from ``rng`` (``no_blur``, ``heavy_noise``: the
    shares of samples left sharp and given extra noise; 0 draws nothing for them)."""
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
        if no_blur > 0 and float(torch.rand((), generator=rng)) < no_blur:
            sharp = patch[..., margin:size - margin, margin:size - margin]
            sigma = SHARP_NOISE_MAX * float(torch.rand((), generator=rng))
            image = (sharp + sigma * torch.randn(sharp.shape, generator=rng)).clamp(0, 1)
            blur = {"name": "none", "noise": sigma}
        else:
            draw = draw_degradation("deblur", patch, rng, margin)
            image, blur = draw.image, {**(draw.blur or {}), "noise": draw.sigma}
        if heavy_noise > 0 and float(torch.rand((), generator=rng)) < heavy_noise:
            # Gaussian noise adds in quadrature: top the drawn σ up to a total uniform in [0.02, HEAVY_NOISE_MAX]
            total = SHARP_NOISE_MAX + (HEAVY_NOISE_MAX - SHARP_NOISE_MAX) * float(torch.rand((), generator=rng))
            extra = math.sqrt(max(total ** 2 - blur["noise"] ** 2, 0.0))
            image = (image + extra * torch.randn(image.shape, generator=rng)).clamp(0, 1)
            blur["noise"] = total
        spectra.append(blur_spectrum(image))
        blurs.append(blur)
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
    sharp = t["family"] == 2
    if sharp.any():  # how many sharp samples are read as sharp, and how many blurred ones are
        values["val_none_recall"] = float((fam[sharp].argmax(-1) == 2).float().mean())
        values["val_none_false"] = float((fam[~sharp].argmax(-1) == 2).float().mean())
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
        self.no_blur = self._share("no_blur")
        self.heavy_noise = self._share("heavy_noise")
        self.train_imgs, val_imgs, self.data_description = load_training_images(self.config.data, channels=1)
        self.val_spectra, val_blurs = _draw_samples(val_imgs, 128, torch.Generator().manual_seed(self.config.seed + 999),
                                                    augment=False, fixed_crop=192, no_blur=self.no_blur,
                                                    heavy_noise=self.heavy_noise)
        self.val_t = targets_from_blurs(val_blurs)

    def _share(self, key: str) -> float:
        from pixelsmith.plugin import TrainingError

        try:
            value = float(self.extra.get(key, 0.0))
        except (TypeError, ValueError):
            value = math.nan
        if not 0 <= value < 1:  # NaN fails too
            raise TrainingError(f"{key} must be a share in [0, 1), got {self.extra[key]!r}")
        return value

    def build(self, session: TrainingSession) -> KernelEstimatorNet:
        return KernelEstimatorNet(width=int(self.extra.get("width", 32)), families=3 if self.no_blur > 0 else 2)

    def summary(self, session: TrainingSession, start: int) -> str:
        return (f"training the deblur kernel estimator on {self.data_description}; crops {CROP_RANGE[0]}–{CROP_RANGE[1]} "
                f"px, {self.no_blur:.0%} left sharp, {self.heavy_noise:.0%} with noise up to {HEAVY_NOISE_MAX:g}, "
                f"batch {session.effective_batch_size}, steps {start}→{self.config.steps}, device {session.device}")

    def loss(self, session: TrainingSession, step: int, model: torch.nn.Module) -> torch.Tensor:
        spectra, blurs = _draw_samples(self.train_imgs, self.config.batch_size, session.step_generator(step, "data"),
                                       augment=self.config.augment, no_blur=self.no_blur,
                                       heavy_noise=self.heavy_noise)
        targets = {k: v.to(session.device) for k, v in targets_from_blurs(blurs).items()}
        return _loss(model(spectra.to(session.device)), targets)

    def evaluate(self, session: TrainingSession, model: torch.nn.Module) -> dict[str, float]:
        return _scores(model(self.val_spectra.to(session.device)), self.val_t)

    def describe(self, values: Mapping[str, float]) -> str:
        return ", ".join(f"{k[4:]} {v:.3f}" for k, v in values.items())

    def export_metadata(self, session: TrainingSession, run) -> dict[str, str]:
        return {**super().export_metadata(session, run), "no_blur": f"{self.no_blur:g}",
                "heavy_noise": f"{self.heavy_noise:g}"}


def train_kernel_estimator(config: TrainConfig) -> Path:
    """Train the kernel estimator as ``config`` says; returns the path of ``kernel-estimator.safetensors``."""
    return run_trainer(config, KernelEstimatorTrainer(config))
