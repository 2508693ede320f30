"""``pixelsmith train deblur part=pnp-prior``: fine-tune the plug-and-play prior through the deconvolution.

The pinned prior is a Gaussian denoiser, but inside plug-and-play (:mod:`.pnp`) it never sees white
Gaussian noise: it sees the data step's output, whose error is coloured by the kernel (ringing along
the kernel's spectral zeros, streaks along a motion path) at levels from 49/255 down to the image's.
Deep unfolding (Zhang, Van Gool & Timofte, *Deep unfolding network for image super-resolution*,
CVPR 2020, "USRNet") trains the denoiser through the unrolled iterations instead. Here the unrolled
algorithm is :func:`.pnp.pnp_deconvolve` itself, the code inference runs, with the U-Net (one view)
as its denoiser; the loss is L1 between its final output and the sharp patch, so the gradient reaches
every iteration's denoiser call through the conjugate-gradient data steps.

Each sample: a patch of ``--data`` (bundled photographs and/or dead leaves, ``mix=``), turned by a
random flip/quarter turn, blurred by a kernel of one of five constructions drawn at random
(:func:`draw_training_kernel`) with the scene beyond the patch (so the borders are unknown, as in a
real photograph), Gaussian noise of σ uniform in [0, :data:`NOISE_MAX`], clipped to [0, 1]. The
plug-and-play run is given that σ and the true kernel. It starts from ``init=`` (default: the plain
Gaussian denoiser the plugin ships, ``Deblurrer.gaussian_prior_file``). Validation: fixed blurs (noise
0.01) of the validation photographs' crops and 4 dead leaves of seed 1, one kernel per construction,
PSNR of the 8-iteration result. ``kernel_error=P``: on a share P of the samples plug-and-play is told a
slightly wrong kernel (:func:`perturb_kernel`); ``noise_max=S`` draws the noise σ up to S instead of
:data:`NOISE_MAX`; ``blocks=N`` trains a prior with N residual blocks per scale (a shallower ``init=`` is
deepened by identity blocks, :meth:`UNet.deepened`); ``unshuffle=1`` a prior working on pixels from its
first layer instead of 2×2 blocks (about four times the compute); an ``init=`` colour ``unet-denoise`` file
is made gray (the shipped default prior starts from ``unet-denoise-rgb.safetensors``). Writes
``pnp-prior.safetensors``, a ``unet-denoise`` weights file: ``pixelsmith.restorer("deblur",
denoiser_weights=PATH)`` uses it.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Mapping

import torch
import torch.nn.functional as F

from pixelsmith.plugin import (
    RestorationRecipe,
    RestorationTrainer,
    TrainConfig,
    TrainingError,
    TrainingSession,
    UNet,
    anisotropic_gaussian_kernel,
    as_kernel_batch,
    blur_with_kernel,
    dead_leaves,
    gaussian_kernel,
    gaussian_noise_like,
    line_kernel,
    load_into,
    load_weights,
    motion_kernel,
    pad_to_multiple,
    read_metadata,
    run_trainer,
    shake_kernel,
)

from .pnp import DEFAULT_ITERATIONS, pnp_deconvolve

__all__ = ["train_pnp_prior", "PnPPriorTrainer", "draw_training_kernel", "prior_denoise", "KERNEL_FAMILIES",
           "NOISE_MAX", "MAX_KERNEL", "perturb_kernel"]

#: The constructions a training kernel is drawn from, with equal probability.
KERNEL_FAMILIES = ("gaussian", "kornia-motion", "line", "anisotropic", "shake")
#: Largest kernel side drawn; the patch's margin holds half of it.
MAX_KERNEL = 25
#: Noise σ of the training blurs is uniform in [0, NOISE_MAX] (``noise_max=`` changes it: the shipped prior,
#: trained to 0.03, is used far outside that range on heavily noisy images; see the model card).
NOISE_MAX = 0.03
#: The pinned prior's architecture (unet-denoise, gray): the fine-tune keeps it (``blocks=`` may deepen it).
PRIOR_WIDTHS = (32, 64, 128, 256)
PRIOR_UNSHUFFLE = 2
#: ``kernel_error=P``: on a share P of the samples plug-and-play is given the kernel stretched by up to
#: this factor (±15 %) and turned by up to this angle (±6°) instead of the true one (:func:`perturb_kernel`).
KERNEL_ERROR_SCALE = 0.15
KERNEL_ERROR_DEGREES = 6.0
#: Dead-leaves images (seed 1) added to the validation photographs' crops.
VAL_LEAVES = 4


def draw_training_kernel(rng: torch.Generator) -> tuple[str, torch.Tensor]:
    """(family, kernel) from one of :data:`KERNEL_FAMILIES`, every draw from ``rng``.

    Ranges cover and exceed those of ``benchmarks/deblur_quality.py`` (its kernels are drawn from
    another seed): isotropic σ 0.5–3.5; Kornia's lines of odd length 3–15; continuous lines 3–21 px;
    anisotropic σ 0.8–3.5 × 0.3–1.5; camera-shake paths 8–30 px (kept when at most
    :data:`MAX_KERNEL` a side)."""
    def u(lo: float, hi: float) -> float:
        return lo + (hi - lo) * float(torch.rand((), generator=rng, dtype=torch.float64))

    family = KERNEL_FAMILIES[int(torch.randint(0, len(KERNEL_FAMILIES), (1,), generator=rng))]
    if family == "gaussian":
        return family, gaussian_kernel(u(0.5, 3.5))
    if family == "kornia-motion":
        return family, motion_kernel(3 + 2 * int(torch.randint(0, 7, (1,), generator=rng)), u(0, 180))
    if family == "line":
        return family, line_kernel(u(3, 21), u(0, 180))
    if family == "anisotropic":
        return family, anisotropic_gaussian_kernel(u(0.8, 3.5), u(0.3, 1.5), u(0, 180))
    while True:
        k = shake_kernel(u(8, 30), torch.Generator().manual_seed(int(torch.randint(0, 2**62, (1,), generator=rng))))
        if k.shape[-1] <= MAX_KERNEL:
            return family, k


def perturb_kernel(k: torch.Tensor, rng: torch.Generator, scale: float = KERNEL_ERROR_SCALE,
                   degrees: float = KERNEL_ERROR_DEGREES) -> torch.Tensor:
    """``k`` stretched by a factor in [1/(1+scale), 1+scale] and turned by up to ``degrees``, resampled
    bilinearly in a kernel two pixels wider, non-negative, summing to 1: the kind of error a blind kernel
    estimate makes (a Gaussian's σ, a line's length and angle a little off)."""
    factor = math.exp(math.log1p(scale) * (2 * float(torch.rand((), generator=rng)) - 1))
    angle = math.radians(degrees * (2 * float(torch.rand((), generator=rng)) - 1))
    side = k.shape[-1] + 2
    # output pixel (u, v) reads input position R(-angle)·(u, v) / factor, in normalised coordinates
    c, s = math.cos(angle) / factor, math.sin(angle) / factor
    ratio = side / k.shape[-1]  # the output grid is wider than the input's: same pixel size
    theta = torch.tensor([[c * ratio, s * ratio, 0.0], [-s * ratio, c * ratio, 0.0]], dtype=torch.float32)[None]
    grid = F.affine_grid(theta, [1, 1, side, side], align_corners=False)
    out = F.grid_sample(k[None, None].float(), grid, mode="bilinear", padding_mode="zeros", align_corners=False)[0, 0]
    out = out.clamp_min(0)
    return out / out.sum() if float(out.sum()) > 0 else F.pad(k, (1, 1, 1, 1))  # nothing left: k itself


def prior_denoise(model: torch.nn.Module, v: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
    """One pass of the prior network as ``unet-denoise`` runs it with σ given (``ensemble=1``): input
    clipped to [0, 1], stacked with the level map and a "known" flag, padded to the network's
    multiple, residual added, output clamped. Differentiable in ``model``'s weights."""
    x = v.clamp(0, 1)
    h, w = x.shape[-2:]
    padded, _ = pad_to_multiple(x, int(getattr(model, "module", model).multiple))
    inp = _level_input(padded, level.to(x.device, torch.float32))
    return (padded + model(inp))[..., :h, :w].clamp(0, 1)


def _level_input(x: torch.Tensor, level: torch.Tensor, kernels: list | None = None) -> torch.Tensor:
    """unet-denoise's network input (image, level map, "known" flag; NaN level = unknown), rebuilt here
    because this plugin must import without pixelsmith-unet (its ``prepare_level_input``). Also the
    recipe's ``prepare``, for the core trainer's own validation set, which this trainer replaces."""
    b, _, h, w = x.shape
    level = level.reshape(b, 1, 1, 1)
    known = torch.isfinite(level).float()
    lmap = torch.nan_to_num(level, nan=0.0) * known
    return torch.cat([x, lmap.expand(b, 1, h, w), known.expand(b, 1, h, w)], dim=1)


class PnPPriorTrainer(RestorationTrainer):
    """Deep unfolding of :func:`.pnp.pnp_deconvolve` on the core restoration trainer (its patch
    sources, warm start, Adam + EMA, checkpoints and ``--resume``); only the loss and validation differ."""

    weights_name = "pnp-prior.safetensors"
    weights_component = "unet-denoise"

    def __init__(self, config: TrainConfig) -> None:
        extra = dict(config.extra or {})
        if "init" not in extra:  # a fine-tune of the plain Gaussian denoiser unless told otherwise
            from .deblur import Deblurrer

            extra["init"] = str(Deblurrer.gaussian_prior_file.path)
        self.iterations = int(extra.get("iterations", DEFAULT_ITERATIONS))
        self.kernel_error = float(extra.get("kernel_error", 0.0))
        try:
            self.noise_max = float(extra.get("noise_max", NOISE_MAX))
        except ValueError:
            self.noise_max = math.nan
        if not 0 < self.noise_max <= 0.5:  # NaN fails too
            raise TrainingError(f"noise_max must be a number in (0, 0.5], got {extra['noise_max']!r}")
        try:
            blocks = int(extra.get("blocks", 1))
        except ValueError:
            blocks = 0
        if not 1 <= blocks <= 8:
            raise TrainingError(f"blocks must be an int in [1, 8] (residual blocks per scale), got {extra['blocks']!r}")
        unshuffle = int(extra.get("unshuffle", PRIOR_UNSHUFFLE))  # checked by the option's declaration
        config = dataclasses.replace(config, extra=extra)
        recipe = RestorationRecipe(
            component="deblur-pnp-prior", task="deblur",
            make_model=lambda: UNet(in_channels=3, out_channels=1, widths=PRIOR_WIDTHS, blocks=blocks,
                                    unshuffle=unshuffle),
            prepare=_level_input, channels=1, patch=int(extra.get("patch", 64)), lr=1e-4, lr_min=1e-6,
            warmup=50, ema_decay=0.998, metadata={"widths": ",".join(map(str, PRIOR_WIDTHS)),
                                                  "role": "deblur plug-and-play prior (deep unfolding)"})
        super().__init__(config, recipe)
        self.blocks = blocks
        self.margin = MAX_KERNEL // 2 + 1

    def build(self, session: TrainingSession) -> torch.nn.Module:
        """The core warm start, except that an ``init=`` prior with fewer residual blocks per scale than
        ``blocks=`` is deepened (:meth:`UNet.deepened`: the same function, identity blocks added) rather
        than refused: more capacity for the fine-tune without losing what the file learnt; and that a colour
        ``unet-denoise`` file is made gray (:meth:`_gray_from_colour`)."""
        init = self.extra.get("init")
        if init is None or self.config.resume or not Path(str(init)).is_file():
            return super().build(session)  # the core's checks and messages (a missing file included)
        path = Path(str(init))
        have = json.loads(read_metadata(str(path)).get("model_config", "{}"))
        if not isinstance(have, dict):
            return super().build(session)
        if (have.get("in_channels"), have.get("out_channels")) == (5, 3):
            return self._gray_from_colour(session, path, have)
        if have.get("blocks", 1) >= self.blocks:
            return super().build(session)
        wanted = self.recipe.make_model().config  # what this run builds
        if {**have, "blocks": self.blocks} != wanted:
            raise TrainingError(f"init={init} holds a network {have}; deepening needs the prior's "
                                f"{wanted} with fewer blocks")
        shallow = UNet.from_config(have)
        load_into(shallow, {k: v.float() for k, v in load_weights(str(path)).items()}, source=str(path))
        session.say(f"initialised from {init}, deepened from {shallow.config['blocks']} to {self.blocks} "
                    "residual blocks per scale (identity blocks added)")
        return shallow.deepened(self.blocks)

    def _gray_from_colour(self, session: TrainingSession, path: Path, config: dict) -> torch.nn.Module:
        """A colour unet-denoise file (RGB, level, known → RGB residual) as the gray prior that computes exactly
        what it does on a gray image copied to R, G and B with the three outputs averaged: the head's RGB weights
        summed, the tail averaged (each rounded to the file's half precision, as a weights file would hold them)."""
        net = self.recipe.make_model()
        if {**config, "in_channels": 3, "out_channels": 1} != net.config:
            raise TrainingError(f"init={path} holds a colour network {config}; this run builds {net.config} "
                                "(pass matching unshuffle=/blocks=)")
        state = {k: v.float() for k, v in load_weights(str(path)).items()}
        head = state["head.weight"]
        state["head.weight"] = torch.cat([head[:, :3].sum(1, keepdim=True), head[:, 3:]], 1).half().float()
        state["tail.weight"] = state["tail.weight"].mean(0, keepdim=True).half().float()
        state["tail.bias"] = state["tail.bias"].mean(0, keepdim=True).half().float()
        load_into(net, state, source=str(path))
        session.say(f"initialised from {path}, the colour network made gray (RGB inputs summed, outputs averaged)")
        return net

    def load_data(self, session: TrainingSession) -> None:
        super().load_data(session)
        # fixed validation blurs: the validation photographs' crops × one kernel per construction
        rng = torch.Generator().manual_seed(self.config.seed + 4242)
        kernels = []
        for family in KERNEL_FAMILIES:
            while True:
                f, k = draw_training_kernel(rng)
                if f == family:
                    kernels.append(k)
                    break
        # validation photographs, and dead leaves of seed 1 (choice data, never the evaluation's seed)
        val = torch.cat([self.val_clean, dead_leaves(VAL_LEAVES, seed=1, size=self.val_clean.shape[-1], channels=1)])
        cleans, blurred, ks = [], [], []
        for k in kernels:
            for clean in val.split(1):
                b = blur_with_kernel(clean, k, "reflect")
                cleans.append(clean)
                blurred.append((b + gaussian_noise_like(b, 0.01, rng)).clamp(0, 1))
                ks.append(k)
        self.val_cases = (torch.cat(cleans), torch.cat(blurred), ks)
        self.val_photos = self.val_clean.shape[0]  # each kernel's cases: the photographs' crops, then the leaves

    def summary(self, session: TrainingSession, start: int) -> str:
        return (f"fine-tuning the deblur plug-and-play prior through {self.iterations} unrolled iterations on "
                f"{self.data_description}; {self.patch}² patches, kernels {', '.join(KERNEL_FAMILIES)}, "
                f"noise σ up to {self.noise_max:g}, "
                f"batch {session.effective_batch_size}, steps {start}→{self.config.steps}, device {session.device}")

    def _unrolled(self, model: torch.nn.Module, y: torch.Tensor, kernels: list[torch.Tensor],
                  sigma: torch.Tensor) -> torch.Tensor:
        batch = as_kernel_batch(kernels, y.shape[0]).to(y.device)  # centres kernels of different sizes
        return pnp_deconvolve(y, batch, lambda v, level: prior_denoise(model, v, level), sigma,
                              iterations=self.iterations)

    def loss(self, session: TrainingSession, step: int, model: torch.nn.Module) -> torch.Tensor:
        rng = session.step_generator(step, "data")
        m = self.margin
        cleans, blurred, kernels, sigmas = [], [], [], []
        for p in self.sampler(self.config.batch_size, rng):
            p = torch.rot90(p, int(torch.randint(0, 4, (1,), generator=rng)), dims=(-2, -1))
            if bool(torch.rand((), generator=rng) < 0.5):
                p = p.flip(-1)
            _, k = draw_training_kernel(rng)
            sigma = self.noise_max * float(torch.rand((), generator=rng))
            b = blur_with_kernel(p, k, "reflect")[..., m:-m, m:-m]  # the margin is real scene: unknown borders
            blurred.append((b + gaussian_noise_like(b, sigma, rng)).clamp(0, 1))
            cleans.append(p[..., m:-m, m:-m])
            if self.kernel_error and bool(torch.rand((), generator=rng) < self.kernel_error):
                k = perturb_kernel(k, rng)  # told a slightly wrong kernel, as a blind restore is
            kernels.append(k)
            sigmas.append(sigma)
        clean = torch.cat(cleans).to(session.device)
        out = self._unrolled(model, torch.cat(blurred).to(session.device), kernels, torch.tensor(sigmas))
        return self.loss_fn(out, clean)

    def evaluate(self, session: TrainingSession, model: torch.nn.Module) -> dict[str, float]:
        import pixelsmith

        psnr = pixelsmith.metric("psnr")
        clean, blurred, kernels = self.val_cases
        values = []
        for i, k in enumerate(kernels):
            out = self._unrolled(model, blurred[i:i + 1].to(session.device), [k], torch.tensor([0.01]))
            values.append(float(psnr(out.cpu().clamp(0, 1), clean[i:i + 1])))
        n = len(kernels) // len(KERNEL_FAMILIES)  # cases per construction, in KERNEL_FAMILIES order
        per_family = {f"val_psnr_{f}": sum(values[j * n:(j + 1) * n]) / n for j, f in enumerate(KERNEL_FAMILIES)}
        # by data set too: a gain on the dead leaves alone is not one on photographs (the model card's caveat)
        photo = [v for i, v in enumerate(values) if i % n < self.val_photos]
        leaves = [v for i, v in enumerate(values) if i % n >= self.val_photos]
        return {"val_psnr": sum(values) / len(values), **per_family,
                "val_psnr_photos": sum(photo) / len(photo), "val_psnr_leaves": sum(leaves) / len(leaves)}

    def describe(self, values: Mapping[str, float]) -> str:
        fams = ", ".join(f"{k[9:]} {v:.2f}" for k, v in values.items() if k.startswith("val_psnr_"))
        return f"validation PSNR {values['val_psnr']:.2f} dB ({fams})"

    def export_metadata(self, session: TrainingSession, run) -> dict[str, str]:
        return {**super().export_metadata(session, run), "iterations": str(self.iterations),
                "kernel_error": f"{self.kernel_error:g}", "noise_max": f"{self.noise_max:g}"}


def train_pnp_prior(config: TrainConfig) -> Path:
    """Fine-tune the plug-and-play prior as ``config`` says; returns the path of ``pnp-prior.safetensors``."""
    return run_trainer(config, PnPPriorTrainer(config))
