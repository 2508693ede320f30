"""``deblur``: deblurring with any blur kernel and noise, gray or RGB, blind by default.

Blind restores estimate each image's kernel first: a learnt estimator (:mod:`.kernel_estimator`) names the blur
from the image's power spectrum, and where it reads camera shake or is unsure a kernel of free shape is searched
on the image (:mod:`.l0_kernel`); :meth:`Deblurrer._blind_choice` holds that policy and the constants below say
what chose each rule. With a kernel (given, or estimated), the default ``method="pnp"`` deconvolves by
plug-and-play (:mod:`.pnp`): an exact data step with unknown boundaries alternating with a ``unet-denoise``
network, fine-tuned through the unrolled deconvolution, as the image prior. ``method="network"`` is the older
one-pass residual U-Net (input: the blurred image, its Wiener deconvolution with the kernel, a "kernel known"
flag), which ``estimate_kernel=False`` runs in its own blind mode. The model card (the plugin's README) says how
well each does; its RESEARCH_LOG.md what was tried.
"""

from __future__ import annotations

import copy
from functools import cached_property
from pathlib import Path
from typing import Any, Sequence

import torch

import pixelsmith
from pixelsmith.plugin import (
    GraphInput,
    InvalidInputError,
    ResidualUNetGraph,
    ResidualUNetRestorer,
    UnknownComponentError,
    as_image_batch,
    as_kernel_batch,
    blur_with_kernel,
    estimate_noise_sigma,
    gaussian_kernel,
    image_input,
    network_for,
    noise_levels,
    packaged_weights,
    residual_unet_graph,
)

from .kernel_refine import delta_kernel, fit_kernel, kernel_spread, support_for
from .kernel_estimator import KernelEstimate, KernelEstimator, load_kernel_estimator
from .l0_kernel import MIN_SIDE as L0_MIN_SIDE
from .l0_kernel import DEFAULT_SUPPORT, estimate_kernel_l0
from .pnp import DEFAULT_ITERATIONS, DEFAULT_PNP_ENSEMBLE, DEFAULT_REGULARISATION, pnp_deconvolve
from .wiener import DEFAULT_BALANCE, wiener_deconvolve

__all__ = ["prepare_deblur_input", "Deblurrer", "is_unsure_reading", "DeblurGraph", "wiener_graph", "DEBLUR_SHA256",
           "KERNEL_ESTIMATOR_SHA256", "PNP_PRIOR_SHA256", "HEAVY_NOISE_PRIOR_SHA256", "GAUSSIAN_PRIOR_SHA256",
           "PRIOR_MAX_NOISE"]


DEBLUR_SHA256 = "3dd783a4182ac7684a99aea0d7cb32a963dcfb372693f18caac615fd9c3c1c40"
#: The plug-and-play prior (since 2026-12-03): a U-Net working on pixels from its first layer (unet-denoise's
#: colour network made gray), fine-tuned through the unrolled deconvolution on noise up to 0.03
#: (``pixelsmith train deblur part=pnp-prior unshuffle=1``, :mod:`.prior_training`; commands in the model card).
PNP_PRIOR_SHA256 = "8b0ed9c30bcbb434f6c57d0c3d342242f975857816d17ba93de1d0d08f9a0b90"
#: The prior above :data:`PRIOR_MAX_NOISE` (the only prior from 2026-12-02 to 2026-12-03): unet-denoise's gray
#: network (2×2 pixel blocks) fine-tuned the same way, then on noise up to 0.2.
HEAVY_NOISE_PRIOR_SHA256 = "9fe09e4ab99c9884d934d61990f063baf1955444c0c2f6e2f088010724197051"
#: Noise levels (the prior's final σ) above this go to the heavy-noise prior: the default prior was trained on
#: noise up to 0.03 only and is 0.6–1.0 dB behind the heavy-noise one at 0.06–0.1 (model card).
PRIOR_MAX_NOISE = 0.03
#: The prior of blind restores (``blind_prior``). "blocked": the heavy-noise prior at every level, since session 26;
#: "pixel": the default prior up to PRIOR_MAX_NOISE, as kernel-given restores (sessions 24-25). A blind kernel is
#: never exact, and the pixel-level prior, sharper with the true kernel, gives more back to kernel error. Choice
#: data (``benchmarks/deblur_estimator_choice.py``, every other choice image, blind gain over TV given the true
#: kernel, pixel -> blocked): Gaussian +1.41 -> +1.66, Kornia +0.55 -> +0.96, continuous line +1.55 -> +1.73,
#: anisotropic +1.38 -> +1.62, camera shake -0.73 -> -0.15 dB; the photographs gain, the dead leaves lose a little.
BLIND_PRIORS = ("blocked", "pixel", "both")
#: The prior of kernel-given restores (``given_prior``), the same three choices: "pixel" (the default prior up to
#: PRIOR_MAX_NOISE, since session 24), "blocked" (the heavy-noise prior at every level), or "both": the two
#: pinned priors' denoised images averaged at every step up to PRIOR_MAX_NOISE (a prior ensemble: their errors
#: differ). "both" gains on photographs and loses on dead leaves (RESEARCH_LOG.md, "Session 29"; outside, given − TV,
#: mean of five families: photographs +0.77 -> +0.84, dead leaves +1.15 -> +1.04), so "pixel" stays the default.
#: Blind restores with "both" lost on every family of the choice data (mean of five +1.75 -> +1.66).
GIVEN_PRIORS = BLIND_PRIORS
#: The Gaussian denoiser the heavy-noise prior was fine-tuned from (unet-denoise's 10,000-step gray weights), the
#: prior until 2026-12-01; the denoiser of images read as not blurred, and ``denoiser_weights=`` for the earlier
#: results.
GAUSSIAN_PRIOR_SHA256 = "b9a72ef43ad93b84f303d3489f596912a39d90f43786bd553e73f7be8027fa36"
#: Blind pnp restores: rounds of kernel refinement after the estimator. 0: on the training photographs
#: and dead leaves (seed 1) refinement cost 1.5–4 dB on average over Gaussian, line and anisotropic
#: kernels (see the model card); kept as an option for kernels the estimator cannot name.
REFINE_ROUNDS = 0
KERNEL_ESTIMATOR_SHA256 = "f8e0b5ae814779d6d1b4039c892f4a153f6abc2546db309dd9686e8ded6edfbc"
#: The six-family estimator (``part=kernel-estimator constructions=all``, session 18), ``estimator="constructions"``:
#: it names continuous lines, anisotropic Gaussians and camera shakes besides Gaussians and Kornia's lines, and reads
#: the kernel of each (RESEARCH_LOG.md: "Blind kernels named by construction"). Since session 21 the file fine-tuned with
#: camera shakes up to 27 px a side (``init=`` the s18 file, ``shake_side=27 shake_path=40``; choice data, mean of the
#: five families +1.11 -> +1.16 dB, shakes of 19-27 px -3.26 -> -2.84; ``benchmarks/deblur_estimator_choice.py``).
KERNEL_CONSTRUCTIONS_SHA256 = "b8c0730585f7ed60dbb915b08669af4b3c9caef4efa8842cb339ba6a05380644"
#: ``estimator=``: the packaged kernel estimators.
ESTIMATORS = ("standard", "constructions")
#: Choice data (session 20, ``benchmarks/deblur_constructions_choice.py``, 9 choice images × 17 kernels, noise
#: 0.01; blind gain over TV given the true kernel, mean per family Gaussian / Kornia / line / anisotropic / shake):
#: "standard" +1.20 / +0.49 / +0.59 / +0.54 / +0.02 (mean +0.57), "constructions" with a shake reading handed to
#: the standard policy +1.55 / +0.76 / +1.80 / +1.58 / -0.13 (mean +1.11).
DEFAULT_ESTIMATOR = "constructions"
#: The six-family estimator was trained at noise ≤ 0.02 only (the two-family one and its no-blur detector up to 0.2):
#: above this estimated noise its images are read the standard way. Choice data (session 20,
#: ``benchmarks/deblur_noise_reader_choice.py``: every other choice image, sharp at noise 0.03–0.2, Gaussian σ 2 /
#: Kornia 9 px / line 8.3 px at 0.03 and 0.05): sharp at 0.1 / 0.2, six-family 30.28 / 27.57 dB against standard
#: 30.48 / 27.75 (a sharp astronaut at 0.1 read as motion: 26.0 against 29.6); blurred at 0.03–0.05 the six-family
#: reader +0.04 dB better; estimated noise of the 0.06 cases ≤ 0.09 (mostly 0.059–0.064), of the 0.1 cases ≥ 0.094;
#: thresholds 0.04–0.08 within 0.015 dB of each other.
CONSTRUCTIONS_MAX_NOISE = 0.08
#: A three-family estimator (``part=kernel-estimator no_blur=0.2 heavy_noise=0.25``, session 15) asked one
#: question only: is the image blurred at all? Its blur readings are not used: as the blind policy's estimator
#: it read camera shakes confidently as lines, so fewer were searched (choice shakes: 77 of 153 against 104;
#: outside, blind on shakes −1.25 → −2.27 dB). See :data:`NO_BLUR_SIGMA` for when its "none" is taken.
NO_BLUR_DETECTOR_SHA256 = "29e31dccdaf12a85b6568d37440111f41ae659cc99b64807bc77a4d855bba48f"
#: Blind restores with ``kernel_shape="auto"``: below this family probability (plus the probability of no blur,
#: for estimators that have that family) the estimator is taken to see a blur outside its two blur families,
#: and the kernel is searched with a free shape instead
#: (:mod:`.l0_kernel`). On the choice set every Gaussian, Kornia-line, continuous-line and anisotropic
#: case had probability 1.00 and every camera-shake case 0.75–0.98.
FREE_SHAPE_BELOW = 0.99
#: ... except when it names a Gaussian of σ at most this (the bottom of its range, 0.5–3): that is how it reads
#: an image with little or no blur, unsure or not (sharp training photographs with noise σ 0–50/255: 10–14 of
#: 17 read as σ ≤ 0.6). Searching there fitted a kernel to the noise. Camera shake on the choice data read as
#: a Gaussian of σ ≤ 0.6 in none of 34 cases (one at 0.74).
#: Since session 15 such a reading is "no blur" (the 1×1 kernel: denoised, not deconvolved) when the no-blur
#: detector (:data:`NO_BLUR_DETECTOR_SHA256`) also answers "none" (``no_blur_check=True``, the default). Choice
#: data, the 17 images of ``deblur_line_policy.py``: sharp images read as unblurred lost 3–14 dB to the
#: deconvolution by σ 0.5 (page at noise 0: 28.4 dB out); see the model card for the trade on mild blurs.
NO_BLUR_SIGMA = 0.6
#: The estimator was trained on Gaussians of σ 0.5–3 and lines of 3–15 px. Far beyond that range (camera
#: shakes 15–27 px across) it often reads a mild Gaussian, confidently, which is also how it reads a sharp
#: image. So when it names a Gaussian of σ at most WIDE_CHECK_SIGMA on an image whose estimated noise is at
#: most WIDE_CHECK_NOISE (heavy noise fools the search, see NO_BLUR_SIGMA), a free-shape kernel is searched
#: as well and taken only if its spread (RMS radius, :func:`.kernel_refine.kernel_spread`) is at least
#: WIDE_BLUR_SPREAD px: far wider than any Gaussian it can name. On choice data (the 13 training and
#: validation photographs and 4 dead leaves of seed 1, sharp with noise 0 / 0.01 / 0.02, or blurred by a
#: 9–21 px camera shake drawn with seed 500, noise 0.01) the search on sharp images read as such a Gaussian
#: gave spreads 0–1.72 px, on the shakes 1.9–4.7 px when it did not collapse to a point.
#: ``python benchmarks/deblur_wide_check_choice.py`` (the same images, sharp at noise 0 / 0.01 / 0.02, and 5
#: shakes of 19–27 px each, noise 0.01): 0 of 51 sharp cases changed; 3 of 85 shakes changed, by +0.18,
#: +5.52 and +8.80 dB (blind, over TV given the true kernel); rerun once the search's L0 weight fell through the
#: pyramid (2026-12-02, the check's detector kept as it was, :func:`.l0_kernel.estimate_kernel_l0`
#: ``restart_lambda``): 0 of 51 sharp, 3 of 85 shakes, by +4.98, +5.53 and +7.31 dB (with the new search as the
#: detector too, 3 sharp cases changed in the first 14 images, by −20.2, −16.7 and −10.7 dB). Earlier
#: exploratory draws: 4 of 102 changed, by +4.9, +6.7, −0.4 and −0.55. The search costs about 8 s of one thread
#: on a 256² image, wherever the check runs (a second search where it finds a wide blur). Only on images of
#: at least WIDE_CHECK_MIN_SIDE px a side: on sharp 64–128 px crops the search found spreads up to 5 px.
WIDE_CHECK_MIN_SIDE = 192
WIDE_CHECK_SIGMA = 1.0
WIDE_CHECK_NOISE = 0.03
WIDE_BLUR_SPREAD = 2.0
#: The largest ``kernel_support``: a search on a 256² image shrinks its support to 63 px anyway (a quarter of a side).
MAX_KERNEL_SUPPORT = 63
#: Above this estimated noise (the top of the range the prior was fine-tuned on, ``prior_training.NOISE_MAX``)
#: an image the estimator reads as unblurred (a Gaussian of σ ≤ NO_BLUR_SIGMA) is denoised by the plain
#: Gaussian prior instead of deconvolved (blind restores, method="pnp"). Choice data (the 17 images of
#: ``deblur_line_policy.py``, sharp, noise 0.03 / 0.06 / 0.1 / 0.2, the estimator's reading): denoising minus
#: the deconvolution +2.42 / +1.45 / +1.24 / +2.31 dB on average over the 13 / 11 / 10 / 9 images read as
#: unblurred, +0.31 dB at least; blurred by a Gaussian of σ 1.0 and read as unblurred: −0.37 (one image, noise
#: 0.03) and +0.71 to +1.88 (four, noise 0.2). Not below it: at noise 0.01 the same rule would gain 5.0 dB on
#: sharp images but lose 1.3–4.8 dB on every image blurred by σ 0.6 that is read the same way.
UNBLURRED_NOISE = 0.03
#: Above this estimated noise a search from scratch restarts its L0 weight at every scale (the search before
#: 2026-12-02, ``restart_lambda``): the falling weight was chosen on choice data at noise 0.01 only.
FALLING_LAMBDA_MAX_NOISE = 0.03
#: A kernel searched from scratch is less exact than a named one, and plug-and-play deconvolution is
#: sensitive to kernel error: its denoiser levels are raised by this factor. ×2 was chosen with the search
#: of 2026-12-01 (camera shake on the choice set, blind gain over TV given the true kernel: ×1 −3.21 dB,
#: ×1.5 −2.32, ×2 −2.02, ×3 −2.37); the search whose L0 weight falls through the pyramid is more exact and
#: wants less (17 images × 3 shakes of seed 500: ×1 −1.46, ×1.25 −1.41, ×1.5 −1.46, ×2 −1.69; shakes of
#: 19–27 px, seed 900: ×1.25 −3.27, ×2 −3.35). Outside, ×2 → ×1.25: camera shake −1.53 → −1.21 dB,
#: Levin-sized shakes −1.98 → −1.54 (``benchmarks/deblur_quality.py [--levin-like]``, 2026-12-02).
SEARCHED_SIGMA_FACTOR = 1.25
#: Alternations when a confident straight-line estimate is refined into a free-shape kernel: each one
#: moves an exact estimate (Kornia's own kernel) further off and a wrong one (an anti-aliased line, an
#: anisotropic Gaussian) nearer. TV deconvolution with the result, on the choice set, minus TV given the
#: true kernel (Kornia / continuous line / anisotropic, dB): none −0.00 / −1.55 / −1.93, one round
#: −0.52 / −0.82 / −0.82, two −0.73 / −0.97 / −0.51, five −0.92 / −1.14 / −0.43.
LINE_REFINE_ROUNDS = 1
#: A kernel searched from scratch with an RMS radius below this (px) has collapsed to about a point. On an image the
#: estimator read as motion-blurred (unsure), ``"auto"`` then takes the estimator's straight line instead (a
#: named kernel: the prior's levels are not raised). Choice data (session 16, ``benchmarks/deblur_collapse_choice.py
#: [--big]``: the 102 camera shakes × choice images of ``deblur_search_choice.py``): the search collapsed on
#: smooth or sparse images (cell, retina, rocket, clock, immunohistochemistry; RMS 0–0.98 px against the true
#: 2.65–6.27); on the 12 such cases with an unsure motion reading, blind gain over TV given the true kernel
#: −2.33 → −1.31 dB (9 better, by up to +3.2; immunohistochemistry −1.43 and −0.48 worse). Sharp choice images
#: (17 × noise 0–0.03) were searched only on unsure *Gaussian* readings, which this leaves alone. Not above an
#: estimated noise of FALLING_LAMBDA_MAX_NOISE, where the search differs and this was not measured.
COLLAPSED_SPREAD = 1.0
#: A straight line read with confidence may be a camera shake: on choice data the estimator reads 22 of 51 shakes
#: (seed 500; 14 of 51 larger ones) as a line with probability ≥ FREE_SHAPE_BELOW, and the refined line loses
#: 4 dB there. So ``"auto"`` also searches a kernel from scratch on such an image (at estimated noise ≤
#: SHAKE_CHECK_MAX_NOISE) and, where the search has about the refined line's extent (RMS radii within
#: SHAKE_CHECK_SPREAD px, neither below COLLAPSED_SPREAD), deconvolves with both; the searched kernel is taken when
#: its deconvolution, though run at the searched kernel's raised levels, explains the blurred image about as well
#: (:func:`interior_residual` at most SHAKE_CHECK_RESIDUAL times the line's). Choice data (session 17,
#: ``benchmarks/deblur_shake_check_choice.py``: 173 confident-line readings among the 17 choice images × the 11
#: kernels of ``deblur_line_policy.py`` and × the 3 + 3 shakes of ``deblur_search_choice.py``), blind gain over TV
#: given the true kernel, refined line → this rule: camera shake −4.11 → −2.18 dB (21 of 40 changed),
#: anisotropic +0.16 → +0.04 (9 of 37), Kornia's lines −0.54 → −0.51 (4 of 48), continuous lines −0.12 → −0.04
#: (9 of 48); the neighbouring thresholds (0.3–1 px, ×1.05–1.1) give shake −2.2 to −2.8 with the lines within
#: 0.1 dB. A search on every such reading instead: shake −2.33, but Kornia −2.77, lines −1.74, anisotropic −1.07.
#: Costs a search (about 8 s of one thread on a 256² image) wherever a line is read with confidence, and a
#: second deconvolution where the search has the line's extent.
#: Only at low noise: at noise 0.025 (``--noise 0.025 --cases lines,shakes --images 9``, 86 confident-line readings)
#: the same rule cost 0.9 dB on continuous lines and 0.6 on Kornia's and lost 0.16 on shakes too; at noise 0.018
#: (83 readings) it cost continuous lines 0.36 dB, Kornia's 0.10, anisotropic 0.07 and gained shakes only 0.21.
#: The estimated noise of the cases read 0.0098–0.0152 at noise 0.01, 0.0177–0.0202 at 0.018: the limit lies between.
SHAKE_CHECK_SPREAD = 0.75
SHAKE_CHECK_RESIDUAL = 1.08
SHAKE_CHECK_MAX_NOISE = 0.016
KERNEL_SHAPES = ("auto", "family", "free")


def prepare_deblur_input(x: torch.Tensor, level: torch.Tensor | None, kernels: Sequence[torch.Tensor | None]
                         ) -> torch.Tensor:
    """Stack (blurred, Wiener estimate or blurred, known flag) for a gray batch; ``kernels[i]`` None = blind."""
    b, _, h, w = x.shape
    second = x.clone()
    known = torch.zeros(b, 1, h, w, dtype=x.dtype, device=x.device)
    for i, k in enumerate(kernels):
        if k is not None:
            second[i:i + 1] = wiener_deconvolve(x[i:i + 1], k.to(x.device), DEFAULT_BALANCE)
            known[i] = 1.0
    return torch.cat([x, second, known], dim=1)


def interior_residual(sharp: torch.Tensor, kernel: torch.Tensor, blurred: torch.Tensor) -> float:
    """Mean squared difference between ``blurred`` and ``sharp`` blurred by ``kernel``, away from the
    borders (a kernel radius plus 2 px), where boundary handling does not matter: how well a
    deconvolution explains its data."""
    r = kernel.shape[-1] // 2 + 2
    d = blur_with_kernel(sharp, kernel.to(sharp), "replicate") - blurred  # any size; borders are cut
    if d.shape[-1] > 2 * r and d.shape[-2] > 2 * r:
        d = d[..., r:-r, r:-r]
    return float(d.square().mean())


def _check_kernel(k: Any) -> torch.Tensor:
    t = torch.as_tensor(k, dtype=torch.float32)
    if t.ndim != 2 or t.shape[0] % 2 == 0 or t.shape[1] % 2 == 0:
        raise InvalidInputError(f"kernel must be a 2-D k×k array with odd sides, got shape {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()) or float(t.sum()) <= 0:
        raise InvalidInputError("kernel must be finite with a positive sum")
    return t / t.sum()


def _mildest_gaussian(e: KernelEstimate) -> bool:
    """Whether ``e`` is the estimator's reading of an image with little or no blur (see :data:`NO_BLUR_SIGMA`)."""
    return e.family == "gaussian" and e.sigma <= NO_BLUR_SIGMA


def _reads_unblurred(e: KernelEstimate) -> bool:
    """Whether ``e`` says "no blur" or is the mildest Gaussian: how the estimator reads an image with little or
    no blur."""
    return e.family == "none" or _mildest_gaussian(e)


def _questioned_by_wide_check(e: KernelEstimate) -> bool:
    """Whether the wide check questions the reading ``e``: no blur, or a Gaussian of σ ≤ :data:`WIDE_CHECK_SIGMA`
    (how the estimator reads a camera shake far beyond its range, as it reads a sharp image)."""
    return e.family == "none" or (e.family == "gaussian" and e.sigma <= WIDE_CHECK_SIGMA)


def is_unsure_reading(e: KernelEstimate) -> bool:
    """Whether a blind restore with ``kernel_shape="auto"`` searches a kernel of free shape for the estimator's reading
    ``e`` (on an image big enough to search): the estimator is unsure of the family (its probability, plus that of
    no blur, below :data:`FREE_SHAPE_BELOW`) and the reading is not one of an unblurred image."""
    # torn between a blur and no blur (three-family estimators) is a mild blur, not one outside the
    # families: on choice data a σ 0.6 Gaussian read at p 0.77 (0.23 for none) was searched, −10 dB
    return e.confidence + e.p_none < FREE_SHAPE_BELOW and not _reads_unblurred(e)


class Deblurrer(ResidualUNetRestorer):
    """Deblurring, blind or with ``restore(x, kernel=k)`` (k×k, e.g. ``info["kernel"]`` of a blur
    degradation; one kernel for the batch, or a list with one per image).

    Without ``kernel=`` each image's kernel is estimated (:meth:`estimate_kernels`) and used as if
    given; ``estimate_kernel=False`` uses the network's own blind mode. ``sigma=`` the noise level
    if known (else estimated per image by patch PCA; only the plug-and-play method uses it).

    ``method``: ``"pnp"`` (default) plug-and-play deconvolution with the ``denoiser`` component
    (default ``unet-denoise`` with the gray weights pinned in this plugin: ``prior_file``, and
    ``heavy_noise_prior_file`` at noise levels above :data:`PRIOR_MAX_NOISE`; ``denoiser_weights`` to
    use one file at every level instead; built through the registry; ``pnp_iterations`` denoiser calls,
    ``pnp_regularisation`` its λ, ``pnp_ensemble`` the views of unet-denoise's self-ensemble per call
    (default 4 with unet-denoise, measured best on the choice set, ``benchmarks/pnp_prior_choice.py``;
    1 is 3.3× faster); ``blind_prior`` which of the two pinned priors blind restores deconvolve with:
    ``"blocked"`` (default: ``heavy_noise_prior_file`` at every level, more forgiving of an estimated kernel's
    error, and 2.3× faster blind) or ``"pixel"`` (as a kernel-given restore; the default of sessions 24–25), see
    :data:`BLIND_PRIORS` (``"both"``: the two averaged at every step); ``given_prior`` the same choice for
    restores with the kernel given: ``"pixel"`` (default), ``"blocked"`` or ``"both"`` (:data:`GIVEN_PRIORS`; the
    time of the two priors together);
    ``kernel_candidates=True`` makes blind restores try every candidate kernel of the estimate (a
    motion estimate is also tried as the continuous line of its expected length, and the deconvolution
    that explains the blurred image better is kept; twice the time on motion blur; off by default: it
    helps continuous lines but picks the wrong kernel for some Kornia-blurred photographs, see the
    model card), then refine the estimated kernel ``refine_rounds`` times, fitting it to the
    deconvolved image, :mod:`.kernel_refine`); ``"network"`` the deblurring U-Net with a Wiener
    estimate as input (one network call; faster, weaker on kernels outside its training draw).
    ``estimator_weights=PATH`` replaces the packaged kernel-estimator weights. ``no_blur_check`` (default
    True): an image the estimator reads as its mildest Gaussian is asked again, of a three-family estimator
    trained with sharp images; where it answers "no blur" the image is only denoised (1×1 kernel).

    ``kernel_shape`` (blind restores): ``"family"`` takes the estimator's Gaussian or straight-line
    kernel; ``"free"`` searches a kernel of any shape on the image, coarse to fine (:mod:`.l0_kernel`,
    about 2.5 s per 256² image); ``"auto"`` (default) keeps a confident Gaussian estimate, refines a
    confident straight line into a kernel of any shape at full resolution (its true path may be
    anti-aliased, curved or thick; about 1.2 s), and searches from scratch when the estimator's family
    probability is below :data:`FREE_SHAPE_BELOW` (camera shake and other blur it was not trained on) and
    the estimate is not its mildest Gaussian (σ ≤ :data:`NO_BLUR_SIGMA`, how it reads an image with no blur);
    where such a search collapses to about a point on an image read as motion-blurred, the estimator's line is
    taken instead (:data:`COLLAPSED_SPREAD`).
    A mild Gaussian it keeps (σ ≤ :data:`WIDE_CHECK_SIGMA`) is checked by a search on images of at least
    :data:`WIDE_CHECK_MIN_SIDE` px with little noise, and replaced when the search finds a far wider blur
    (a camera shake beyond the estimator's range, which it reads as a mild Gaussian); ``wide_check=False``
    switches that check off (the policy before 2026-12-01's session 11).
    ``line_refine_rounds`` (default :data:`LINE_REFINE_ROUNDS`): rounds of that refinement of a confident
    straight line; 0 keeps the estimator's line. ``shake_check`` (default True; plug-and-play only, at estimated
    noise ≤ :data:`SHAKE_CHECK_MAX_NOISE`): a confident straight line is also checked against a kernel searched from
    scratch, which is taken where it has the line's extent and explains the image about as well (a camera shake the
    estimator took for a line, :data:`SHAKE_CHECK_SPREAD`; 8–12 s more per 256² image read as a line).
    ``kernel_candidates=True`` implies ``kernel_shape="family"``. ``exact_kernel_fit`` (default True since session
    28): the kernel searches with the falling L0 weight and the line refinements solve their full-scale kernel steps
    exactly (:func:`.l0_kernel.estimate_kernel_l0` ``exact_fit``; a search 1.5× the time), not in the Toeplitz
    approximation (False: the restores of sessions 19–27); the restart-weight searches (the wide check's detector,
    heavy noise) keep the approximation they were calibrated with. ``kernel_support``
    (default :data:`.l0_kernel.DEFAULT_SUPPORT`, odd): the side in pixels of the kernels searched from scratch (blur
    paths up to about that many pixels across; the wide check's detector and the line refinements keep the default).

    ``estimator`` (blind restores): ``"constructions"`` (the default since 2026-12-03; opt-in from 2026-12-02)
    reads blind kernels with the six-family estimator, which names the construction of the blur: with
    ``kernel_shape="auto"`` a Gaussian, continuous line or anisotropic Gaussian is taken as read, a Kornia line
    refined as above, with no unsure-reading searches and no shake check; an image it names camera-shaken is
    handed to the standard policy above (the two-family estimator's reading, searched where unsure, the shake
    check), which did better on shakes than searching every such image (model card); so is an image whose
    estimated noise is above :data:`CONSTRUCTIONS_MAX_NOISE` (beyond its training). ``"standard"`` reads every
    image with the two-family estimator (the default until 2026-12-03). ``estimator_weights=PATH`` reads with
    that file instead, as a six-family or a two-family estimator by what the file holds.
    """

    weights_file = packaged_weights("pixelsmith_deblur", "deblur.safetensors", DEBLUR_SHA256)
    estimator_file = packaged_weights("pixelsmith_deblur", "kernel-estimator.safetensors", KERNEL_ESTIMATOR_SHA256)
    constructions_estimator_file = packaged_weights("pixelsmith_deblur", "kernel-constructions.safetensors",
                                                    KERNEL_CONSTRUCTIONS_SHA256)
    no_blur_detector_file = packaged_weights("pixelsmith_deblur", "no-blur-detector.safetensors",
                                             NO_BLUR_DETECTOR_SHA256)
    #: The gray denoiser weights the pnp method gives ``unet-denoise``: pinned here, so deblurring results do
    #: not move when unet-denoise's own weights are retrained. Fine-tuned for deconvolution (model card).
    prior_file = packaged_weights("pixelsmith_deblur", "pnp-prior-full.safetensors", PNP_PRIOR_SHA256)
    #: The default prior's stand-in where the noise level is above :data:`PRIOR_MAX_NOISE`.
    heavy_noise_prior_file = packaged_weights("pixelsmith_deblur", "pnp-prior-unfolded.safetensors",
                                              HEAVY_NOISE_PRIOR_SHA256)
    #: The plain Gaussian denoiser the heavy-noise prior was fine-tuned from.
    gaussian_prior_file = packaged_weights("pixelsmith_deblur", "pnp-prior-gray.safetensors", GAUSSIAN_PRIOR_SHA256)
    #: Golden outputs pin the network method too (pixelsmith.testing.check_golden): the default pnp method
    #: never calls this plugin's own U-Net (deblur.safetensors), which is also what the export graph holds.
    golden_variants = {"network": {"method": "network"}}
    #: Their tolerance: plug-and-play's 8 iterations of the pixel-level prior over 4 views, with conjugate
    #: gradients between, end up to 1.5e-4 apart on two CPUs (an AVX-512 Xeon against the machine that wrote the
    #: file, the RGB kernel-given case), past the default 1e-4; a real change moves them by far more.
    golden_atol = 1e-3

    def __init__(self, device: str | None = None, *, estimator_weights: str | Path | None = None,
                 method: str = "pnp", denoiser: str = "unet-denoise", denoiser_weights: str | Path | None = None,
                 pnp_iterations: int = DEFAULT_ITERATIONS,
                 pnp_regularisation: float = DEFAULT_REGULARISATION, refine_rounds: int = REFINE_ROUNDS,
                 pnp_ensemble: int | None = None, kernel_candidates: bool = False, kernel_shape: str | None = None,
                 line_refine_rounds: int = LINE_REFINE_ROUNDS, wide_check: bool = True, no_blur_check: bool = True,
                 shake_check: bool = True, estimator: str | None = None, blind_prior: str = BLIND_PRIORS[0],
                 given_prior: str = "pixel", exact_kernel_fit: bool = True, kernel_support: int = DEFAULT_SUPPORT,
                 **options: Any) -> None:
        if method not in ("pnp", "network"):
            raise InvalidInputError(f"method must be 'pnp' or 'network', got {method!r}")
        if blind_prior not in BLIND_PRIORS:
            raise InvalidInputError(f"blind_prior must be one of {BLIND_PRIORS}, got {blind_prior!r}")
        if given_prior not in GIVEN_PRIORS:
            raise InvalidInputError(f"given_prior must be one of {GIVEN_PRIORS}, got {given_prior!r}")
        self.blind_prior, self.given_prior = blind_prior, given_prior
        if isinstance(pnp_iterations, bool) or not isinstance(pnp_iterations, int) or not 1 <= pnp_iterations <= 100:
            raise InvalidInputError(f"pnp_iterations must be an int in [1, 100], got {pnp_iterations!r}")
        if pnp_ensemble is None:  # unet-denoise's views by default; another denoiser has no such option
            pnp_ensemble = DEFAULT_PNP_ENSEMBLE if denoiser == "unet-denoise" else 1
        if pnp_ensemble not in (1, 2, 4, 8) or isinstance(pnp_ensemble, bool):
            raise InvalidInputError(f"pnp_ensemble must be 1, 2, 4 or 8 (views of unet-denoise's self-ensemble), "
                                    f"got {pnp_ensemble!r}")
        if pnp_ensemble != 1 and denoiser != "unet-denoise":
            raise InvalidInputError(f"pnp_ensemble is an option of the unet-denoise prior, not of {denoiser!r}")
        if isinstance(pnp_regularisation, bool) or not isinstance(pnp_regularisation, (int, float)) \
                or not 0 < pnp_regularisation <= 100:
            raise InvalidInputError(f"pnp_regularisation must be a number in (0, 100], got {pnp_regularisation!r}")
        if isinstance(refine_rounds, bool) or not isinstance(refine_rounds, int) or not 0 <= refine_rounds <= 10:
            raise InvalidInputError(f"refine_rounds must be an int in [0, 10], got {refine_rounds!r}")
        if isinstance(line_refine_rounds, bool) or not isinstance(line_refine_rounds, int) \
                or not 0 <= line_refine_rounds <= 10:
            raise InvalidInputError(f"line_refine_rounds must be an int in [0, 10], got {line_refine_rounds!r}")
        self.line_refine_rounds = line_refine_rounds
        if not isinstance(wide_check, bool):
            raise InvalidInputError(f"wide_check must be True or False, got {wide_check!r}")
        self.wide_check = wide_check
        if not isinstance(no_blur_check, bool):
            raise InvalidInputError(f"no_blur_check must be True or False, got {no_blur_check!r}")
        self.no_blur_check = no_blur_check
        if not isinstance(shake_check, bool):
            raise InvalidInputError(f"shake_check must be True or False, got {shake_check!r}")
        self.shake_check = shake_check
        if not isinstance(exact_kernel_fit, bool):
            raise InvalidInputError(f"exact_kernel_fit must be True or False, got {exact_kernel_fit!r}")
        self.exact_kernel_fit = exact_kernel_fit
        if isinstance(kernel_support, bool) or not isinstance(kernel_support, int) or kernel_support % 2 == 0 \
                or not 3 <= kernel_support <= MAX_KERNEL_SUPPORT:
            raise InvalidInputError(f"kernel_support must be an odd int in [3, {MAX_KERNEL_SUPPORT}] (the side in "
                                    f"pixels of kernels searched from scratch), got {kernel_support!r}")
        self.kernel_support = kernel_support
        #: the estimated noise above which a six-family reader hands an image over (a choice script raises it)
        self.constructions_max_noise = CONSTRUCTIONS_MAX_NOISE
        super().__init__(device, **options)
        self.refine_rounds = refine_rounds
        if estimator is not None and estimator_weights is not None:
            raise InvalidInputError(f"give estimator={estimator!r} or estimator_weights=, not both")
        estimator = DEFAULT_ESTIMATOR if estimator is None else estimator
        if estimator not in ESTIMATORS:
            raise InvalidInputError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
        packaged = self.constructions_estimator_file if estimator == "constructions" else self.estimator_file
        self._estimator_source = estimator_weights if estimator_weights is not None else packaged
        self.method, self.denoiser_name = method, denoiser
        # unet-denoise gets the pinned prior file unless told otherwise; another denoiser its own weights
        self._denoiser_weights = denoiser_weights if denoiser_weights is not None else \
            (self.prior_file if denoiser == "unet-denoise" else None)
        if "both" in (blind_prior, given_prior) and not self._pinned_priors:
            raise InvalidInputError("the prior 'both' averages this plugin's two pinned priors; with another denoiser "
                                    "or denoiser_weights= there is one prior: choose 'pixel' (or leave the default)")
        self.pnp_iterations, self.pnp_regularisation = pnp_iterations, float(pnp_regularisation)
        self.pnp_ensemble = pnp_ensemble
        if not isinstance(kernel_candidates, bool):
            raise InvalidInputError(f"kernel_candidates must be True or False, got {kernel_candidates!r}")
        self.kernel_candidates = kernel_candidates
        if kernel_shape is None:  # the candidates are the estimator's own kernels: they need its family kernel
            kernel_shape = "family" if kernel_candidates else "auto"
        if kernel_shape not in KERNEL_SHAPES:
            raise InvalidInputError(f"kernel_shape must be one of {KERNEL_SHAPES}, got {kernel_shape!r}")
        if kernel_candidates and kernel_shape != "family":
            raise InvalidInputError("kernel_candidates=True chooses between the estimator's family kernels; "
                                    f"it cannot be combined with kernel_shape={kernel_shape!r}")
        self.kernel_shape = kernel_shape

    @cached_property
    def prior(self) -> Any:
        """The denoiser of the plug-and-play method, built on first use through the registry."""
        try:
            weights = {} if self._denoiser_weights is None else {"weights": self._denoiser_weights}
            if self.denoiser_name == "unet-denoise":  # its views per iteration: each costs a network call
                weights["ensemble"] = self.pnp_ensemble
            return pixelsmith.restorer(self.denoiser_name, device=self.device, **weights)
        except UnknownComponentError as exc:
            raise InvalidInputError(
                f"deblur method='pnp' needs the denoiser {self.denoiser_name!r}, which is not installed "
                "(pip install pixelsmith-unet), or pass method='network'") from exc

    @property
    def _pinned_priors(self) -> bool:
        """Whether plug-and-play runs on this plugin's pinned files (unet-denoise, no ``denoiser_weights=``)."""
        return self.denoiser_name == "unet-denoise" and self._denoiser_weights is self.prior_file

    def _pinned_denoiser(self, weights: Any) -> Any:
        """``unet-denoise`` with one of this plugin's pinned files and the prior's views."""
        return pixelsmith.restorer("unet-denoise", device=self.device, weights=weights, ensemble=self.pnp_ensemble)

    @cached_property
    def heavy_noise_prior(self) -> Any:
        """The prior of noise levels above :data:`PRIOR_MAX_NOISE`: ``heavy_noise_prior_file`` with the default
        prior; with another denoiser or ``denoiser_weights=``, that one at every level."""
        return self._pinned_denoiser(self.heavy_noise_prior_file) if self._pinned_priors else self.prior

    @cached_property
    def plain_prior(self) -> Any:
        """The denoiser of images with no blur (a 1×1 kernel): with the default priors, the plain Gaussian denoiser
        the heavy-noise prior was fine-tuned from (``gaussian_prior_file``); else the chosen denoiser and weights."""
        return self._pinned_denoiser(self.gaussian_prior_file) if self._pinned_priors else self.prior

    @cached_property
    def estimator(self) -> KernelEstimator:
        """The blind kernel estimator, loaded on first use (kernel-given restores never need it)."""
        return load_kernel_estimator(self._estimator_source, self.device)

    @cached_property
    def standard_estimator(self) -> KernelEstimator:
        """The packaged two-family estimator, whose reading a six-family estimator's "camera shake" hands over to."""
        return load_kernel_estimator(self.estimator_file, self.device)

    @property
    def reads_constructions(self) -> bool:
        """Whether the kernel estimator is a six-family one (``constructions=all``): it names continuous lines,
        anisotropic Gaussians and camera shakes itself."""
        return self.estimator.net.config["families"] == 6

    @cached_property
    def no_blur_detector(self) -> KernelEstimator:
        """The three-family estimator asked only whether an image is blurred (:data:`NO_BLUR_DETECTOR_SHA256`)."""
        return load_kernel_estimator(self.no_blur_detector_file, self.device)

    def _read(self, x: torch.Tensor, estimator: KernelEstimator | None = None) -> list[KernelEstimate]:
        """The estimator's readings (``estimator``, default :attr:`estimator`); with ``no_blur_check``, its
        mildest Gaussians (σ ≤ :data:`NO_BLUR_SIGMA`) that the no-blur detector answers "none" are "none" (the
        1×1 kernel)."""
        readings = (self.estimator if estimator is None else estimator)(x)
        if not self.no_blur_check or not any(map(_mildest_gaussian, readings)):
            return readings
        answers = self.no_blur_detector(x)  # its "none" estimates carry the 1×1 kernel
        return [a if _mildest_gaussian(e) and a.family == "none" else e for e, a in zip(readings, answers)]

    def estimate_kernels(self, x: Any) -> list[KernelEstimate]:
        """The estimated blur of each image of ``x`` (B×C×H×W in [0, 1]): family ("gaussian", "motion", or
        "none" where the image reads as not blurred), parameters, kernel."""
        return self._read(as_image_batch(x, name="x").to(self.device))

    def blind_kernels(self, x: Any) -> list[torch.Tensor]:
        """The kernel a blind ``restore(x)`` deblurs each image of ``x`` with (``kernel_shape``): the
        estimator's, or one of free shape found on the image. ``restore(x, kernel=...)`` with them gives
        the blind result, except that a kernel searched from scratch also raises the prior's noise levels
        ×:data:`SEARCHED_SIGMA_FACTOR` (pass ``sigma`` accordingly) and that a blind restore deconvolves with
        the blind prior (``blind_prior``; with ``"pixel"`` the same prior as a kernel given). A 1×1 kernel means
        "no blur", which the restore only denoises: an image read as "none" (see ``no_blur_check``), or read as unblurred with noise
        above :data:`UNBLURRED_NOISE`."""
        x = as_image_batch(x, name="x").to(self.device)
        return self._blind_kernels(x, self._read(x))[0]

    def _infer(self, x: torch.Tensor, **params: Any) -> torch.Tensor:
        estimate = params.pop("estimate_kernel", True)
        if estimate not in (True, False):
            raise InvalidInputError(f"estimate_kernel must be True or False, got {estimate!r}")
        sigma = params.pop("sigma", None)
        blind = params.get("kernel") is None and estimate
        estimates = self._read(x) if blind else None
        searched = [False] * x.shape[0]  # kernels searched from scratch: less sure, treated as noisier
        levels = None  # the prior's noise levels (plug-and-play only)
        if self.method == "pnp" and (blind or params.get("kernel") is not None):
            levels = estimate_noise_sigma(x) if sigma is None else noise_levels(sigma, x.shape[0])
        done: dict[int, torch.Tensor] = {}  # deconvolutions the blind policy already made
        if blind:
            # levels without sigma are the noise estimate the policy's noise tests read: made once
            params["kernel"], searched, done = self._blind_choice(x, estimates, levels,
                                                                  estimated=levels if sigma is None else None)
        if levels is not None and params.get("kernel") is not None:
            kernels = self._kernels(params["kernel"], x.shape[0])
            levels = levels * torch.tensor([SEARCHED_SIGMA_FACTOR if s else 1.0 for s in searched], dtype=levels.dtype)
            sharp = None  # the deconvolution with the current kernels, when already computed
            if done and not self.refine_rounds:
                sharp = torch.empty_like(x)
                for i, v in done.items():
                    sharp[i:i + 1] = v
                if rest := [i for i in range(x.shape[0]) if i not in done]:
                    sharp[rest] = self._pnp(x[rest], [kernels[i] for i in rest], levels[rest], blind=blind)
            if blind and self.kernel_candidates:
                kernels, sharp = self._best_candidates(x, estimates, kernels, levels)
            for _ in range(self.refine_rounds if blind else 0):
                # deconvolve with the current kernels, then fit each kernel to that sharp estimate
                sharp = self._pnp(x, kernels, levels, blind=True) if sharp is None else sharp
                kernels = [fit_kernel(sharp[i].mean(0), x[i].mean(0), support_for(k))
                           for i, k in enumerate(kernels)]
                sharp = None
            return self._pnp(x, kernels, levels, blind=blind) if sharp is None else sharp
        return super()._infer(x, **params)

    def _blind_kernels(self, x: torch.Tensor, estimates: list[KernelEstimate]
                       ) -> tuple[list[torch.Tensor], list[bool]]:
        """Each image's kernel for a blind restore (``kernel_shape``, see the class doc), and whether it
        was searched from scratch (the prior's levels: the noise estimated on ``x``)."""
        levels = estimate_noise_sigma(x) if self.method == "pnp" else None
        return self._blind_choice(x, estimates, levels, estimated=levels)[:2]

    def _blind_choice(self, x: torch.Tensor, estimates: list[KernelEstimate], levels: torch.Tensor | None,
                      estimated: torch.Tensor | None = None
                      ) -> tuple[list[torch.Tensor], list[bool], dict[int, torch.Tensor]]:
        """:meth:`_blind_kernels` with the prior's noise levels given (None: not plug-and-play), and the
        deconvolutions already made to choose the kernels (image index → restored, at ``levels``, raised for a
        searched kernel). ``estimated``: the batch's noise estimate (:func:`estimate_noise_sigma`) if already
        made, else it is made when a rule needs it."""
        kernels, searched = [], []
        done: dict[int, torch.Tensor] = {}
        big_enough = min(x.shape[-2:]) >= L0_MIN_SIDE  # else the estimator's kernel, whatever the setting
        wide_check = self.wide_check and min(x.shape[-2:]) >= WIDE_CHECK_MIN_SIDE and self.kernel_shape == "auto"
        noise: list[torch.Tensor] = [] if estimated is None else [estimated]  # made once, if some image needs it

        def noise_of(i: int) -> float:
            if not noise:
                noise.append(estimate_noise_sigma(x))
            return float(noise[0][i])

        def named(i: int, e: KernelEstimate, unblurred: bool) -> torch.Tensor:
            # plug-and-play deconvolution by the estimator's mildest Gaussian damages a sharp noisy image (its
            # prior was tuned for deconvolution): above UNBLURRED_NOISE such a reading means "no blur", the
            # 1×1 kernel, which :meth:`_pnp` answers by denoising alone (as it answers an estimator that
            # reads "none" itself: its kernel is the 1×1 one)
            if unblurred and e.family != "none" and self.method == "pnp" and noise_of(i) > UNBLURRED_NOISE:
                return delta_kernel(1)
            return e.kernel

        # six-family estimators name the constructions themselves: no "unsure" searches, no shake check; but an
        # image named camera-shaken goes the standard way, read by the two-family estimator (choice data,
        # session 20: shakes -0.37 -> -0.13 dB against searching each one, other families within 0.04 dB), and
        # so does an image noisier than the six-family estimator's training (CONSTRUCTIONS_MAX_NOISE)
        six = self.kernel_shape == "auto" and self.reads_constructions
        handed = [six and (e.family == "shake" or noise_of(i) > self.constructions_max_noise)
                  for i, e in enumerate(estimates)]
        if any(handed):
            handed_over = [i for i, h in enumerate(handed) if h]
            estimates = list(estimates)
            for i, e in zip(handed_over, self._read(x[handed_over], self.standard_estimator)):
                estimates[i] = e
        for i, e in enumerate(estimates):
            constructions = six and not handed[i]
            # the mildest Gaussian is how the estimator reads an image with little or no blur: a search there
            # fits a kernel to the noise (a sharp camera crop with noise σ 10: 28.6 dB in, 20.4 out)
            unblurred = _reads_unblurred(e)
            search = big_enough and (self.kernel_shape == "free"
                                     or (self.kernel_shape == "auto" and not constructions and is_unsure_reading(e)))
            if search:
                # the falling L0 weight was chosen at noise 0.01; under heavy noise it fits wider kernels to the
                # noise (the bench's noise-only rows, camera at σ 25 / 50: 24.17 / 22.29 dB → 22.40 / 21.59),
                # so there the search restarts its weight per scale, as before
                heavy = noise_of(i) > FALLING_LAMBDA_MAX_NOISE
                found = estimate_kernel_l0(x[i].mean(0), support=self.kernel_support, restart_lambda=heavy,
                                           exact_fit=self.exact_kernel_fit and not heavy)
                if self.kernel_shape == "auto" and e.family == "motion" and not heavy \
                        and kernel_spread(found) < COLLAPSED_SPREAD:
                    # a search that collapsed to a point on an image read as motion-blurred: smooth images
                    # (cell, retina) have too few edges to pin a path down; the estimator's line beats "no blur".
                    # Chosen at noise 0.01: under heavy noise a point may be right (a sharp image read as motion)
                    found, search = e.kernel, False
                kernels.append(found)
            elif big_enough and self.kernel_shape == "auto" and e.family == "motion" and self.line_refine_rounds:
                # a straight line named with confidence: refined from it into a kernel of any shape
                line = estimate_kernel_l0(x[i].mean(0), init=e.kernel, rounds=self.line_refine_rounds,
                                          exact_fit=self.exact_kernel_fit)
                if self.shake_check and not constructions and levels is not None \
                        and noise_of(i) <= SHAKE_CHECK_MAX_NOISE:
                    line, search, sharp = self._shake_check(x[i:i + 1], line, levels[i:i + 1])
                    if sharp is not None:
                        done[i] = sharp
                kernels.append(line)
            elif wide_check and _questioned_by_wide_check(e) and noise_of(i) <= WIDE_CHECK_NOISE:
                # sharp, or blurred far beyond the estimator's range: the search with the L0 weight restarting
                # at every scale tells them apart (the one WIDE_BLUR_SPREAD was calibrated on); the search
                # of a kernel from scratch then finds the blur (it reads wider kernels on sharp texture, so
                # it cannot be the detector: gravel, sharp, noise 0.01, −25.8 dB)
                found = estimate_kernel_l0(x[i].mean(0), restart_lambda=True)
                search = kernel_spread(found) >= WIDE_BLUR_SPREAD
                kernels.append(estimate_kernel_l0(x[i].mean(0), support=self.kernel_support,
                                                  exact_fit=self.exact_kernel_fit) if search
                               else named(i, e, unblurred))
            else:
                kernels.append(named(i, e, unblurred))
            searched.append(search)
        return kernels, searched, done

    def _shake_check(self, x: torch.Tensor, line: torch.Tensor, level: torch.Tensor
                     ) -> tuple[torch.Tensor, bool, torch.Tensor | None]:
        """For one image read as a straight line with confidence (``line``: the refined line): the kernel to take
        (the line, or a kernel searched from scratch when the image looks camera-shaken, :data:`SHAKE_CHECK_SPREAD`),
        whether it was searched, and its deconvolution at ``level`` (raised for a searched kernel) if one was made."""
        found = estimate_kernel_l0(x[0].mean(0), support=self.kernel_support, exact_fit=self.exact_kernel_fit)
        spread = kernel_spread(found)
        if spread < COLLAPSED_SPREAD or abs(spread - kernel_spread(line)) >= SHAKE_CHECK_SPREAD:
            return line, False, None  # a point, or a blur of another extent: the search went astray
        sharp = self._pnp(x, [line], level, blind=True)
        shaken = self._pnp(x, [found], level * SEARCHED_SIGMA_FACTOR, blind=True)
        # the searched kernel is deconvolved at raised levels, which smooths more and so leaves a larger residual for
        # an equally good kernel: "about as well" (×SHAKE_CHECK_RESIDUAL) makes room for that
        if interior_residual(shaken, found, x) <= SHAKE_CHECK_RESIDUAL * interior_residual(sharp, line, x):
            return found, True, shaken
        return line, False, sharp

    def _best_candidates(self, x: torch.Tensor, estimates: list[KernelEstimate], kernels: list[torch.Tensor],
                         levels: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Deconvolve with every candidate kernel of each estimate (``kernels``: the estimates' own,
        checked); keep, per image, the kernel whose result explains the blurred image best
        (:func:`interior_residual`). Returns the kept kernels and their deconvolutions."""
        kernels, out = list(kernels), self._pnp(x, kernels, levels, blind=True)
        best = [interior_residual(out[i:i + 1], kernels[i], x[i:i + 1]) for i in range(x.shape[0])]
        for i, e in enumerate(estimates):
            for k in map(_check_kernel, e.candidates()[1:]):
                trial = self._pnp(x[i:i + 1], [k], levels[i:i + 1], blind=True)
                r = interior_residual(trial, k, x[i:i + 1])
                if r < best[i]:
                    best[i], kernels[i], out[i:i + 1] = r, k, trial
        return kernels, out

    @staticmethod
    def _kernels(kernel: Any, b: int) -> list[torch.Tensor]:
        """``kernel`` (one k×k kernel, or a list with one per image) as ``b`` checked, normalised kernels."""
        if isinstance(kernel, (list, tuple)) and len(kernel) and not isinstance(kernel[0], (int, float)) \
                and torch.as_tensor(kernel[0]).ndim == 2:
            if len(kernel) != b:
                raise InvalidInputError(f"got {len(kernel)} kernels for {b} images; give one, or one per image")
            return [_check_kernel(k) for k in kernel]
        return [_check_kernel(kernel)] * b

    def _pnp(self, x: torch.Tensor, kernels: list[torch.Tensor], levels: torch.Tensor, *, blind: bool = False
             ) -> torch.Tensor:
        # images whose kernels have one size (and whose noise one prior serves) share a canvas; images with no
        # blur (1×1) share one call of the plain denoiser, whatever their noise. ``blind``: the kernels are
        # estimates, deconvolved with the blind prior (``blind_prior``)
        out = torch.empty_like(x)
        groups: dict[tuple[tuple[int, ...], bool], list[int]] = {}
        choice = self.blind_prior if blind else self.given_prior
        for i, k in enumerate(kernels):
            shape = tuple(k.shape)
            # "blocked": every level on the heavy-noise (blocked) prior
            heavy = shape != (1, 1) and (choice == "blocked" or float(levels[i]) > PRIOR_MAX_NOISE)
            groups.setdefault((shape, heavy), []).append(i)
        for (shape, heavy), index in groups.items():
            if shape == (1, 1):  # no blur: the plain denoiser, not iterated denoising by the deconvolution prior
                out[index] = self.plain_prior.restore(x[index], sigma=levels[index])
                continue
            priors = (self.heavy_noise_prior,) if heavy else \
                (self.prior, self.heavy_noise_prior) if choice == "both" else (self.prior,)

            def denoise(v: torch.Tensor, level: torch.Tensor, priors: tuple[Any, ...] = priors) -> torch.Tensor:
                return sum(p.restore(v, sigma=level) for p in priors) / len(priors)

            ks = as_kernel_batch([kernels[i] for i in index], len(index)) if len(index) > 1 \
                else as_kernel_batch(kernels[index[0]], 1)
            out[index] = pnp_deconvolve(x[index], ks, denoise, levels[index], iterations=self.pnp_iterations,
                                        regularisation=self.pnp_regularisation)
        return out.clamp_(0, 1)

    #: ``restore()`` parameters an export graph can take as inputs (see :meth:`export_graph`).
    export_inputs = ("kernel",)

    def export_graph(self, *, inputs: tuple[str, ...] = (), channels: int | None = None) -> Any:
        """The export graph (:mod:`pixelsmith.export`): ``image`` → restored with the network's own blind
        mode, or (``image``, ``kernel`` B×k×k) → restored with each image's kernel, Wiener step inside.

        The kernel estimator is not in the graph (its spectra, argmax and kernel drawing are not one
        fixed graph): to get the default blind result, estimate kernels with :meth:`estimate_kernels`
        and pass them as the ``kernel`` input.
        """
        net, per_channel, fixed = network_for(self, channels)
        with_kernel = "kernel" in inputs
        module = DeblurGraph(net, per_channel, with_kernel)
        ins = [image_input(fixed, module.multiple)]
        if with_kernel:
            k = gaussian_kernel(1.6)
            ins.append(GraphInput("kernel", torch.stack([k, torch.zeros_like(k)]), {0: "batch", 1: "kernel", 2: "kernel"},
                                  "B×k×k blur kernels, k odd, one per image (normalised to sum 1 inside); "
                                  "all zeros: unknown (blind) for that image; zero-pad smaller kernels to a common k"))

        # the graph holds the network method; the plug-and-play loop (denoiser calls, CG) is not exported
        net = copy.copy(self)
        net.method = "network"

        def reference(image: torch.Tensor, kernel: torch.Tensor | None = None) -> torch.Tensor:
            if kernel is None:
                return net.restore(image, estimate_kernel=False)
            return torch.cat([net.restore(image[i:i + 1], kernel=k) if float(k.sum()) > 0
                              else net.restore(image[i:i + 1], estimate_kernel=False)
                              for i, k in enumerate(kernel)])

        notes = ["the graph is deblur's method='network' (one U-Net call with a Wiener estimate); restore()'s "
                 "default method='pnp' (plug-and-play with the unet-denoise denoiser) is not exportable",
                 "blind graph = the network's own blind mode (estimate_kernel=False); restore()'s default "
                 "blind path first estimates the kernel (not in the graph): estimate it with "
                 "Deblurrer.estimate_kernels and pass it as kernel for that result",
                 "Wiener deconvolution runs in float64 inside the graph (ONNX DFT, opset ≥ 17)"]
        from dataclasses import replace

        graph = residual_unet_graph(self, module, tuple(ins), fixed, reference, notes)
        graph = replace(graph, facts={**graph.facts, "method": "network",
                                      "reproduces": "pixelsmith.restorer('deblur', method='network').restore()"})
        if with_kernel:
            graph = replace(graph, bounds={**graph.bounds, "kernel": (1, None)},
                            notes=(*graph.notes, "the kernel size k must be at most 3·min(H, W) − 2"))
        return graph

    def prepare(self, x: torch.Tensor, *, channels: int = 1, kernel: Any = None) -> torch.Tensor:
        n = x.shape[0]
        b = n // channels
        if kernel is None:
            ks: list[torch.Tensor | None] = [None] * n
        else:
            ks = [k for k in self._kernels(kernel, b) for _ in range(channels)]
        return prepare_deblur_input(x, None, ks)


def wiener_graph(x: torch.Tensor, kernel: torch.Tensor, balance: float = DEFAULT_BALANCE) -> torch.Tensor:
    """:func:`~.wiener.wiener_deconvolve` for a batch ``x`` (N×1×H×W) with one kernel per image (N×k×k),
    in operations an ONNX graph can hold: the roll of the kernel is two slices, the transforms run in
    float64 on real and imaginary parts. Needs k ≤ 3·min(H, W) − 2 (``wiener_deconvolve`` replicates
    tiny images further; the graph does not).
    """
    k = kernel.shape[-1]
    h, w = x.shape[-2], x.shape[-1]
    pad = min(min(k, h - 1), w - 1)
    xp = torch.nn.functional.pad(x, [pad, pad, pad, pad], mode="reflect")
    hp, wp = xp.shape[-2], xp.shape[-1]
    psf = torch.nn.functional.pad(torch.flip(kernel, dims=(-2, -1)), [0, wp - k, 0, hp - k])
    c = k // 2
    psf = torch.cat([psf[:, c:], psf[:, :c]], dim=1)
    psf = torch.cat([psf[:, :, c:], psf[:, :, :c]], dim=2)
    otf = torch.view_as_real(torch.fft.rfft2(psf.double()))
    spectrum = torch.view_as_real(torch.fft.rfft2(xp[:, 0].double()))
    ore, oim = otf[..., 0], otf[..., 1]
    den = ore * ore + oim * oim + balance
    fre, fim = ore / den, -oim / den
    sre, sim = spectrum[..., 0], spectrum[..., 1]
    product = torch.stack([sre * fre - sim * fim, sre * fim + sim * fre], dim=-1)
    out = torch.fft.irfft2(torch.view_as_complex(product), s=[hp, wp])
    return out[:, None, pad:pad + h, pad:pad + w].to(x.dtype).clamp(0, 1)


class DeblurGraph(ResidualUNetGraph):
    """The ``deblur`` export graph: (blurred, Wiener estimate or blurred, known flag) → residual."""

    def __init__(self, net: torch.nn.Module, per_channel: bool, with_kernel: bool) -> None:
        super().__init__(net, per_channel)
        self.with_kernel = with_kernel

    def forward(self, image: torch.Tensor, kernel: torch.Tensor | None = None) -> torch.Tensor:
        b, c = image.shape[0], image.shape[1]
        x = self.begin(image)
        n, hp, wp = x.shape[0], x.shape[2], x.shape[3]
        if kernel is None or not self.with_kernel:
            second = x
            known = torch.zeros(n, 1, hp, wp, dtype=x.dtype, device=x.device)
        else:
            # an all-zero kernel means "unknown": that image runs the network's blind mode
            kernel = kernel.to(x.dtype)
            total = kernel.sum(dim=(-2, -1), keepdim=True)
            given = total > 0
            kernel = torch.where(given, kernel / torch.where(given, total, torch.ones_like(total)),
                                 torch.zeros_like(kernel))
            ks = kernel.shape[-1]
            # every channel of every batch entry deconvolved with its image's kernel
            kernel = kernel.reshape(b, 1, ks, ks).expand(b, c, ks, ks).reshape(b * c, ks, ks)
            flag = given.to(x.dtype).reshape(b, 1, 1, 1).expand(b, c, 1, 1).reshape(b * c, 1, 1, 1)
            flag = flag.reshape(n, -1, 1, 1)[:, :1]
            deconvolved = wiener_graph(x.reshape(b * c, 1, hp, wp), kernel).reshape(x.shape)
            second = torch.where(flag > 0, deconvolved, x)
            known = flag.expand(n, 1, hp, wp)
        inp = torch.cat([x, second, known], dim=1)
        return self.finish(x, inp, image)
