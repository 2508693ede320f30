"""``pixelsmith train deblur part=kernel-estimator``: train the blind kernel estimator.

Each sample is a sharp crop of a training photograph (96–256 px a side, so the estimator sees
Welch spectra averaged over few and over many windows), augmented with the core's Kornia
geometric + photometric preset, then blurred and noised by the same draw the deblurring model
trains on (:func:`pixelsmith.training.restoration.draw_degradation`: Gaussian σ ∈ [0.5, 3] or
motion length 3–15 at any angle, noise up to 0.02). ``no_blur=P`` leaves a share P of the samples
sharp (noise only), and the network gets a third family, "none"; ``heavy_noise=P`` adds to a share P of
the samples more noise, for a total σ of 0.02–:data:`HEAVY_NOISE_MAX` (blind restores meet heavily noisy
images: an estimator trained at ≤ 0.02 reads a sharp one under noise 0.1 as a short motion blur). Both
default to 0, which draws exactly as before. ``constructions=all`` draws the blur from five constructions
with equal probability instead (:func:`draw_construction`: isotropic Gaussians, Kornia's lines, continuous
lines, anisotropic Gaussians, camera-shake paths) and trains a six-family network that names each of them
and reads the continuous line's length and the anisotropic Gaussian's two widths too. The loss is
cross-entropy on the blur family and on the motion length, L1 on the Gaussian σ and squared error on
the doubled motion angle.
``shake_side=N`` and ``shake_path=L`` draw camera shakes up to N px a side and L px of path (25 and 30 by default);
``init=FILE`` starts from a kernel-estimator weights file of the same shape (a fine-tune).
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

from .kernel_estimator import (
    ANISO_SIGMA_RANGE,
    LINE_RANGE,
    MOTION_LENGTHS,
    SIGMA_RANGE,
    KernelEstimatorNet,
    blur_spectrum,
    split_extras,
    split_outputs,
    targets_from_blurs,
)

__all__ = ["train_kernel_estimator", "KernelEstimatorTrainer", "CROP_RANGE", "HEAVY_NOISE_MAX", "draw_construction",
           "CONSTRUCTIONS"]

#: Side of the training crops, drawn uniformly per sample.
CROP_RANGE = (96, 256)
#: ``heavy_noise=``: the largest total noise σ of the samples given extra noise (the bench's σ 50/255).
HEAVY_NOISE_MAX = 0.2
#: Noise σ of the samples left sharp (``no_blur=``) and of the ``constructions=all`` blurs is uniform in
#: [0, this]: the deblurring draw's range, so every family is seen at the noise it is read under.
SHARP_NOISE_MAX = 0.02
#: ``constructions=``: "training" (the deblurring model's own draw: Gaussians and Kornia's lines) or "all".
CONSTRUCTIONS = ("training", "all")
#: ``constructions=all``: camera shakes of 8–30 px path are kept when their kernel is at most this side (the
#: plug-and-play prior's training draw, ``prior_training.draw_training_kernel``), and the crops' margin holds half.
MAX_SHAKE_SIDE = 25
#: ``constructions=all``: the camera shakes' path length (px) is uniform in this range. ``shake_side=`` and
#: ``shake_path=`` widen both (Levin et al.'s kernels are up to 27 px a side); the defaults draw as before.
SHAKE_PATH = (8.0, 30.0)
#: ``constructions=all``: anisotropic widths (σ along, σ across; across < along is enforced by turning the axes).
ANISO_ALONG = (0.8, 3.5)
ANISO_ACROSS = (0.3, 1.5)


def draw_construction(rng: torch.Generator, *, shake_side: int = MAX_SHAKE_SIDE,
                      shake_path: float = SHAKE_PATH[1]) -> tuple[dict, torch.Tensor]:
    """(blur record, kernel) from one of five constructions with equal probability, every draw from ``rng``:
    isotropic Gaussian σ in SIGMA_RANGE, Kornia's line of odd length 3–15, continuous line in LINE_RANGE,
    anisotropic Gaussian (:data:`ANISO_ALONG` × :data:`ANISO_ACROSS`), camera-shake path of 8–``shake_path`` px
    whose kernel is at most ``shake_side`` a side. Ranges cover those of ``benchmarks/deblur_quality.py``, whose
    kernels are drawn from another seed."""
    from pixelsmith.plugin import anisotropic_gaussian_kernel, gaussian_kernel, line_kernel, motion_kernel, shake_kernel

    def u(lo: float, hi: float) -> float:
        return lo + (hi - lo) * float(torch.rand((), generator=rng, dtype=torch.float64))

    which = int(torch.randint(0, 5, (1,), generator=rng))
    angle = u(0, 180)
    if which == 0:
        s = u(*SIGMA_RANGE)
        return {"name": "gaussian-blur", "sigma": s}, gaussian_kernel(s)
    if which == 1:
        length = MOTION_LENGTHS[int(torch.randint(0, len(MOTION_LENGTHS), (1,), generator=rng))]
        return {"name": "motion-blur", "length": length, "angle": angle}, motion_kernel(length, angle)
    if which == 2:
        length = u(*LINE_RANGE)
        return {"name": "line", "length": length, "angle": angle}, line_kernel(length, angle)
    if which == 3:
        along, across = u(*ANISO_ALONG), u(*ANISO_ACROSS)
        if across > along:
            along, across, angle = across, along, (angle + 90.0) % 180.0
        along, across = min(along, ANISO_SIGMA_RANGE[1]), max(across, ANISO_SIGMA_RANGE[0])
        return ({"name": "anisotropic", "sigma_x": along, "sigma_y": across, "angle": angle},
                anisotropic_gaussian_kernel(along, across, angle))
    while True:
        k = shake_kernel(u(SHAKE_PATH[0], shake_path),
                         torch.Generator().manual_seed(int(torch.randint(0, 2**62, (1,), generator=rng))))
        if k.shape[-1] <= shake_side:
            return {"name": "shake", "side": k.shape[-1]}, k


def _draw_samples(images: list[torch.Tensor], n: int, rng: torch.Generator, augment: bool,
                  fixed_crop: int | None = None, no_blur: float = 0.0,
                  heavy_noise: float = 0.0, constructions: str = "training", shake_side: int = MAX_SHAKE_SIDE,
                  shake_path: float = SHAKE_PATH[1]) -> tuple[torch.Tensor, list[dict]]:
    """n (spectrum, blur record) pairs, every draw from ``rng`` (``no_blur``, ``heavy_noise``: the
    shares of samples left sharp and given extra noise; 0 draws nothing for them; ``constructions``: one of
    :data:`CONSTRUCTIONS`; ``shake_side``, ``shake_path``: the camera shakes' largest side and path, see
    :func:`draw_construction`)."""
    from pixelsmith.plugin import blur_margin, blur_with_kernel, draw_degradation, gaussian_noise_like

    every = constructions == "all"
    margin = shake_side // 2 + 1 if every else blur_margin("deblur")
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
        elif every:
            blur, kernel = draw_construction(rng, shake_side=shake_side, shake_path=shake_path)
            sigma = SHARP_NOISE_MAX * float(torch.rand((), generator=rng))
            blurred = blur_with_kernel(patch, kernel, "reflect")[..., margin:size - margin, margin:size - margin]
            image = (blurred + gaussian_noise_like(blurred, sigma, rng)).clamp(0, 1)
            blur = {**blur, "noise": sigma}
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
    extras = split_extras(out)
    gauss, motion = t["family"] == 0, t["family"] == 1
    line, aniso = t["family"] == 3, t["family"] == 4
    loss = F.cross_entropy(fam, t["family"])
    if gauss.any():
        loss = loss + 4.0 * F.l1_loss(sig[gauss], t["sigma"][gauss])
    if motion.any():
        loss = loss + F.cross_entropy(lens[motion], t["length"][motion])
        loss = loss + F.mse_loss(ang[motion], t["angle"][motion])
    if extras is not None and line.any():
        loss = loss + 4.0 * F.l1_loss(extras[line, 2], t["extras"][line, 2])
        loss = loss + F.mse_loss(ang[line], t["angle"][line])
    if extras is not None and aniso.any():
        loss = loss + 4.0 * F.l1_loss(extras[aniso, :2], t["extras"][aniso, :2])
        # the angle of a nearly round Gaussian hardly matters and cannot be read: weighted by its elongation
        along, across = t["extras"][aniso, 0], t["extras"][aniso, 1]
        weight = ((along - across) / along.clamp_min(1e-3)).clamp(0, 1)
        loss = loss + (weight[:, None] * (ang[aniso] - t["angle"][aniso]).square()).mean()
    return loss


def _angle_error_deg(ang: torch.Tensor, target: torch.Tensor) -> float:
    pred = torch.atan2(ang[:, 1], ang[:, 0])
    true = torch.atan2(target[:, 1], target[:, 0])
    diff = torch.remainder(pred - true + math.pi, 2 * math.pi) - math.pi  # doubled angle
    return float(torch.rad2deg(diff.abs()).mean() / 2)


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
        values["val_angle_mae_deg"] = _angle_error_deg(ang[motion], t["angle"][motion])
    extras = split_extras(out.float().cpu())
    line, aniso = t["family"] == 3, t["family"] == 4
    if extras is not None and line.any():
        span = LINE_RANGE[1] - LINE_RANGE[0]
        values["val_line_length_mae"] = float((extras[line, 2].clamp(0, 1) - t["extras"][line, 2]).abs().mean() * span)
        values["val_line_angle_mae_deg"] = _angle_error_deg(ang[line], t["angle"][line])
    if extras is not None and aniso.any():
        span = ANISO_SIGMA_RANGE[1] - ANISO_SIGMA_RANGE[0]
        values["val_aniso_sigma_mae"] = float((extras[aniso, :2].clamp(0, 1) - t["extras"][aniso, :2]).abs().mean()
                                              * span)
    if fam.shape[1] == 6:
        for i, name in ((3, "line"), (4, "aniso"), (5, "shake")):
            if (t["family"] == i).any():
                values[f"val_{name}_recall"] = float((fam[t["family"] == i].argmax(-1) == i).float().mean())
    return values


class KernelEstimatorTrainer(NetworkTrainer):
    """The kernel estimator on the core's one-network trainer (Adam, EMA, warm-up + cosine)."""

    component = "deblur-kernel-estimator"
    weights_component = "deblur"
    task = "kernel-estimation"
    weights_name = "kernel-estimator.safetensors"
    lr_min, warmup, ema_decay = 1e-5, 200, 0.998

    def load_data(self, session: TrainingSession) -> None:
        from pixelsmith.plugin import TrainingError

        self.no_blur = self._share("no_blur")
        self.heavy_noise = self._share("heavy_noise")
        self.constructions = str(self.extra.get("constructions", "training"))
        if self.constructions not in CONSTRUCTIONS:
            raise TrainingError(f"constructions must be one of {', '.join(CONSTRUCTIONS)}, got {self.constructions!r}")
        self.shake_side = int(self.extra.get("shake_side", MAX_SHAKE_SIDE))
        self.shake_path = float(self.extra.get("shake_path", SHAKE_PATH[1]))
        if self.constructions != "all" and ("shake_side" in self.extra or "shake_path" in self.extra):
            raise TrainingError("shake_side and shake_path shape the camera shakes of constructions=all; "
                                "add constructions=all or drop them")
        if self.shake_side % 2 == 0 or self.shake_side < 9:
            raise TrainingError(f"shake_side must be an odd number of pixels ≥ 9, got {self.shake_side}")
        if self.shake_path <= SHAKE_PATH[0]:
            raise TrainingError(f"shake_path must be above {SHAKE_PATH[0]:g} px (the shortest path), "
                                f"got {self.shake_path:g}")
        self.train_imgs, val_imgs, self.data_description = load_training_images(self.config.data, channels=1)
        self.val_spectra, val_blurs = _draw_samples(val_imgs, 128, torch.Generator().manual_seed(self.config.seed + 999),
                                                    augment=False, fixed_crop=192, no_blur=self.no_blur,
                                                    heavy_noise=self.heavy_noise, constructions=self.constructions,
                                                    **self._shakes())
        self.val_t = targets_from_blurs(val_blurs)

    def _shakes(self) -> dict:
        return {"shake_side": self.shake_side, "shake_path": self.shake_path}

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
        families = 6 if self.constructions == "all" else 3 if self.no_blur > 0 else 2
        net = KernelEstimatorNet(width=int(self.extra.get("width", 32)), families=families)
        init = self.extra.get("init")
        if init is not None and not self.config.resume:  # a resumed run has its own weights in the checkpoint
            _warm_start(net, Path(str(init)))
            session.say(f"initialised from {init}")
        return net

    def summary(self, session: TrainingSession, start: int) -> str:
        blurs = "five constructions" if self.constructions == "all" else "the deblurring draw"
        return (f"training the deblur kernel estimator on {self.data_description}; crops {CROP_RANGE[0]}–{CROP_RANGE[1]} "
                f"px, blurs from {blurs}, {self.no_blur:.0%} left sharp, {self.heavy_noise:.0%} with noise up to "
                f"{HEAVY_NOISE_MAX:g}, "
                f"batch {session.effective_batch_size}, steps {start}→{self.config.steps}, device {session.device}")

    def loss(self, session: TrainingSession, step: int, model: torch.nn.Module) -> torch.Tensor:
        spectra, blurs = _draw_samples(self.train_imgs, self.config.batch_size, session.step_generator(step, "data"),
                                       augment=self.config.augment, no_blur=self.no_blur,
                                       heavy_noise=self.heavy_noise, constructions=self.constructions,
                                       **self._shakes())
        targets = {k: v.to(session.device) for k, v in targets_from_blurs(blurs).items()}
        return _loss(model(spectra.to(session.device)), targets)

    def evaluate(self, session: TrainingSession, model: torch.nn.Module) -> dict[str, float]:
        return _scores(model(self.val_spectra.to(session.device)), self.val_t)

    def describe(self, values: Mapping[str, float]) -> str:
        return ", ".join(f"{k[4:]} {v:.3f}" for k, v in values.items())

    def export_metadata(self, session: TrainingSession, run) -> dict[str, str]:
        return {**super().export_metadata(session, run), "no_blur": f"{self.no_blur:g}",
                "heavy_noise": f"{self.heavy_noise:g}", "constructions": self.constructions,
                **({"shake_side": str(self.shake_side), "shake_path": f"{self.shake_path:g}"}
                   if self.constructions == "all" else {}),
                **({"init": str(self.extra["init"])} if "init" in self.extra else {})}


def _warm_start(net: KernelEstimatorNet, path: Path) -> None:
    """Load the kernel-estimator weights file ``path`` into ``net`` (same width and families, or an error)."""
    from pixelsmith.plugin import TrainingError

    from .kernel_estimator import load_kernel_estimator

    if not path.is_file():
        raise TrainingError(f"init={path}: no such file; give a kernel-estimator weights file "
                            "(e.g. runs/<name>/kernel-estimator.safetensors or one in the plugin's weights/ folder)")
    start = load_kernel_estimator(path).net
    if start.config != net.config:
        raise TrainingError(f"init={path} holds a kernel estimator of {start.config}, this run builds {net.config}: "
                            "match width= and the families (constructions=, no_blur=) to the file")
    net.load_state_dict(start.state_dict())


def train_kernel_estimator(config: TrainConfig) -> Path:
    """Train the kernel estimator as ``config`` says; returns the path of ``kernel-estimator.safetensors``."""
    return run_trainer(config, KernelEstimatorTrainer(config))
