"""Everything a plugin imports from pixelsmith, in one module.

A plugin (and its tests) imports from three places only: ``pixelsmith`` (the user's API),
``pixelsmith.plugin`` (this module) and ``pixelsmith.testing`` (the conformance kit). Every other
module of pixelsmith is internal and may change or move; CI enforces the rule with import-linter
(``.importlinter``). The names below are what the shipped plugins use, grouped as in the
`plugin guide <plugin-guide.md#what-to-import>`_:

- the contract: :func:`hookimpl`, the specs, the four base classes, the errors, the truth of a
  degradation in the restorers' vocabulary (:func:`degradation_truth`, :data:`TRUTH_KEYS`) and the
  per-image noise levels a restorer is given (:func:`noise_levels`);
- tensors and weights: input conversion, safetensors loading/saving, metadata schemas, shipped files;
- image helpers: tiling and padding, blur kernels, noise, noise-level estimation, deconvolution
  (:class:`BlurCanvas`: a blur with unknown boundaries, as ``tv-deconv`` and ``deblur`` solve it);
- the shared networks (:mod:`pixelsmith.nn`): the residual U-Net, its restorer base and export graph;
- export: the graph types a component returns to opt in to ``pixelsmith export``;
- data: the bundled photographs, MNIST digits and dead-leaves images;
- training: the trainer protocol (:class:`Trainer`) and its one driver (:func:`run_trainer`), the
  config, options, session and network plumbing, the restoration recipe and trainer, the GAN trainer
  and its weights helpers.

>>> from pixelsmith.plugin import hookimpl, Restorer, RestorerSpec, packaged_weights  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# -- the contract -----------------------------------------------------------------------------------------
from .components import (
    TRUTH_KEYS,
    Degradation,
    Degraded,
    Generator,
    Metric,
    MetricResult,
    Restorer,
    combine_truth,
    degradation_truth,
    make_generator,
    noise_levels,
)
# -- data ---------------------------------------------------------------------------------------------------
from .data import load_image_folder, load_mnist, load_photo, test_photos, training_photos
from .data.dead_leaves import dead_leaves
# -- image helpers ------------------------------------------------------------------------------------------
from .deconvolution import MAX_KERNEL_SIDE, BlurCanvas, as_kernel_batch, canvas_geometry
from .degradations.blur import blur_with_kernel
from .degradations.kernels import (
    anisotropic_gaussian_kernel,
    gaussian_kernel,
    kernel_moments,
    line_kernel,
    motion_kernel,
    shake_kernel,
)
from .degradations.noise import gaussian_noise_like
from .errors import (
    ImageReadError,
    ImageTooLargeError,
    InvalidInputError,
    PixelsmithError,
    PluginConflictError,
    PluginError,
    ResourceError,
    TrainingError,
    UnknownComponentError,
    WeightsError,
)
# -- export -------------------------------------------------------------------------------------------------
from .export import ChannelsRequired, ExportGraph, Exporter, GraphInput, generator_graph
from .hookspecs import hookimpl
# -- the shared networks ------------------------------------------------------------------------------------
from .nn import (
    DEFAULT_UNSHUFFLE,
    DEFAULT_WIDTHS,
    UNET_CONFIG_SCHEMA,
    ResidualUNetGraph,
    ResidualUNetRestorer,
    UNet,
    image_input,
    network_for,
    per_image,
    residual_unet_graph,
)
from .noise_level import estimate_noise_sigma
from .specs import DegradationSpec, GeneratorSpec, MetricSpec, RestorerSpec, WeightsFile
# -- tensors and weights ------------------------------------------------------------------------------------
from .tensors import as_image_batch, default_device, to_numpy_image
from .tiling import pad_to_min_size, pad_to_multiple, tile_starts, tiled_apply
# -- training -----------------------------------------------------------------------------------------------
from .training import (
    EMA,
    Checkpoint,
    CheckpointParts,
    NetworkTrainer,
    RunResult,
    TrainConfig,
    Trainee,
    Trainer,
    TrainingSession,
    latest_checkpoint,
    load_checkpoint,
    run_trainer,
    save_checkpoint,
)
from .training.gan import GENERATOR_FILE, GANTrainer, export_generator, train_gan
from .training.gan_weights import (
    TrainedGANGenerator,
    architecture_options,
    call_with_options,
    check_labels,
    latent_input,
    split_architecture_options,
)
from .training.options import RESTORATION_OPTIONS, Option, declare_options, gan_options
from .training.restoration import (
    VALIDATION_PHOTOS,
    DegradationDraw,
    RestorationRecipe,
    RestorationTrainer,
    blur_margin,
    draw_degradation,
    load_training_images,
    train_restorer,
)
from .training.trainee import cosine_lr, export_weights
from .weights import (
    Field,
    build_checked,
    load_into,
    load_weights,
    packaged_weights,
    read_metadata,
    save_weights,
    sha256_of,
    validate_metadata,
)

if TYPE_CHECKING:  # imported on first use (Kornia's augmentation module takes most of a second)
    from .augment import paired_augment

#: Names imported on first access (``from pixelsmith.plugin import paired_augment`` works as usual).
_LAZY = {"paired_augment": ".augment"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__.rpartition(".")[0]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    # the contract: hooks, specs, base classes
    "hookimpl",
    "MetricSpec",
    "RestorerSpec",
    "GeneratorSpec",
    "DegradationSpec",
    "WeightsFile",
    "Metric",
    "MetricResult",
    "Restorer",
    "Generator",
    "Degradation",
    "Degraded",
    "make_generator",
    # the contract's vocabulary: a degradation's truth, a restorer's per-image noise levels
    "TRUTH_KEYS",
    "degradation_truth",
    "combine_truth",
    "noise_levels",
    # errors
    "PixelsmithError",
    "InvalidInputError",
    "UnknownComponentError",
    "PluginError",
    "PluginConflictError",
    "WeightsError",
    "ImageReadError",
    "ImageTooLargeError",
    "ResourceError",
    "TrainingError",
    # tensors
    "as_image_batch",
    "default_device",
    "to_numpy_image",
    # weights (safetensors only, sha256-checked; metadata checked before a model is built)
    "load_weights",
    "save_weights",
    "load_into",
    "read_metadata",
    "sha256_of",
    "packaged_weights",
    "Field",
    "validate_metadata",
    "build_checked",
    # image helpers: tiling, kernels, noise, noise level, deconvolution (blur with unknown boundaries)
    "tiled_apply",
    "tile_starts",
    "pad_to_multiple",
    "pad_to_min_size",
    "gaussian_kernel",
    "motion_kernel",
    "line_kernel",
    "anisotropic_gaussian_kernel",
    "shake_kernel",
    "kernel_moments",
    "blur_with_kernel",
    "gaussian_noise_like",
    "estimate_noise_sigma",
    "BlurCanvas",
    "as_kernel_batch",
    "canvas_geometry",
    "MAX_KERNEL_SIDE",
    # the shared networks (pixelsmith.nn)
    "UNet",
    "DEFAULT_WIDTHS",
    "DEFAULT_UNSHUFFLE",
    "UNET_CONFIG_SCHEMA",
    "ResidualUNetRestorer",
    "per_image",
    "ResidualUNetGraph",
    "network_for",
    "image_input",
    "residual_unet_graph",
    # export (opt in to `pixelsmith export`)
    "Exporter",
    "ExportGraph",
    "GraphInput",
    "ChannelsRequired",
    "generator_graph",
    # data
    "load_mnist",
    "load_photo",
    "test_photos",
    "training_photos",
    "load_image_folder",
    "dead_leaves",
    # training: the trainer protocol and its one driver
    "Trainer",
    "CheckpointParts",
    "RunResult",
    "run_trainer",
    "NetworkTrainer",
    "Option",
    "declare_options",
    # training: plumbing
    "TrainConfig",
    "TrainingSession",
    "Trainee",
    "EMA",
    "Checkpoint",
    "save_checkpoint",
    "load_checkpoint",
    "latest_checkpoint",
    "paired_augment",
    # training: restorers (a recipe for the core trainer)
    "RestorationRecipe",
    "RestorationTrainer",
    "RESTORATION_OPTIONS",
    "train_restorer",
    "DegradationDraw",
    "draw_degradation",
    "blur_margin",
    "cosine_lr",
    "export_weights",
    "load_training_images",
    "VALIDATION_PHOTOS",
    # training: GANs
    "GANTrainer",
    "gan_options",
    "train_gan",
    "export_generator",
    "GENERATOR_FILE",
    "TrainedGANGenerator",
    "architecture_options",
    "split_architecture_options",
    "check_labels",
    "latent_input",
    "call_with_options",
]
