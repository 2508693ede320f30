"""Loading what :func:`~pixelsmith.training.gan.train_gan` wrote, for the generator plugins.

The GAN plugins (``dcgan``, ``mlp-gan``) are separate distributions that differ only in their
networks; the logic that turns a weights file into a ready generator lives here:

- :func:`load_generator_network`: a shipped weights file, a ``generator.safetensors`` or a training
  checkpoint (its EMA generator, batch-norm statistics re-estimated) -> the network it describes;
- :class:`TrainedGANGenerator`: a :class:`pixelsmith.Generator` built that way, which a plugin
  subclasses by naming its network, its shipped weights and its train command;
- :func:`architecture_options` and :func:`split_architecture_options`: the integer architecture
  options read from ``model_config`` metadata or taken out of ``TrainConfig.extra``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterable, Mapping, NamedTuple

import torch
from torch import nn

from ..components import Generator
from ..errors import InvalidInputError, TrainingError, WeightsError
from ..specs import WeightsFile
from ..weights import Field, build_checked, load_into, load_weights, read_metadata, validate_metadata
from .config import TrainConfig

__all__ = ["LoadedGenerator", "load_generator_network", "TrainedGANGenerator", "architecture_options",
           "split_architecture_options"]

#: The ``format`` metadata of a training checkpoint (see :mod:`pixelsmith.training.checkpoint`).
_CHECKPOINT_FORMAT = "pixelsmith-checkpoint-1"
#: The checkpoint prefix of the EMA generator's tensors (what :func:`train_gan` ships).
_EMA_PREFIX = "G_ema."


class LoadedGenerator(NamedTuple):
    """What :func:`load_generator_network` returns."""

    net: nn.Module                          #: the generator network, on the CPU, in float32
    model_config: dict[str, Any]            #: the file's ``model_config`` metadata
    path: Path                              #: the file it was read from
    output_shape: tuple[int, int, int]      #: ``(C, H, W)`` of one sample


def architecture_options(model_config: Mapping[str, Any], keys: Iterable[str]) -> dict[str, int]:
    """The integer options ``keys`` that ``model_config`` holds (missing ones are left out)."""
    return {k: int(model_config[k]) for k in keys if k in model_config}


def load_generator_network(weights: str | Path | None, *, sha256: str | None, shipped: WeightsFile,
                           build: Callable[..., nn.Module], arch_keys: Iterable[str], component: str,
                           model_name: str, conditional: bool = False) -> LoadedGenerator:
    """Build and load the generator a weights file written by ``pixelsmith train <component>`` describes.

    ``weights`` None loads ``shipped`` (sha256-checked); otherwise ``weights`` is a
    ``generator.safetensors`` or a training checkpoint, whose EMA generator is taken and whose
    batch-norm statistics are re-estimated. ``sha256``, when given, must match the file.
    ``build(**arch)`` builds the network from the ``arch_keys`` found in ``model_config`` and
    raises ``ValueError`` for an architecture it cannot build; ``model_name`` (e.g. "a DCGAN")
    names that architecture in the error. Every :class:`WeightsError` names the file.
    """
    if weights is None:
        source: Any = shipped
        path = shipped.path
    else:
        source, path = Path(weights), Path(weights)
    state = load_weights(source, sha256=sha256)
    meta = read_metadata(path)
    if "model_config" not in meta:
        raise WeightsError(f"{path} has no model_config metadata; it was not written by "
                           f"`pixelsmith train {component}`")
    keys = tuple(arch_keys)
    # integers in a sane range for every architecture option, checked before anything is built
    schema = {"model_config": Field(dict, fields={k: Field(int, required=False, low=0, high=1 << 20) for k in keys})}
    cfg = validate_metadata(path, meta, schema)["model_config"]
    if bool(cfg.get("conditional")) != conditional:
        kind = "a class-conditional" if cfg.get("conditional") else "an unconditional"
        maker = meta.get("component")
        hint = f"; it was written by `pixelsmith train {maker}`, so load it with `{maker}`" if maker else ""
        raise WeightsError(f"{path} holds {kind} model, which `{component}` does not build{hint}")
    arch = architecture_options(cfg, keys)
    is_checkpoint = meta.get("format") == _CHECKPOINT_FORMAT
    if is_checkpoint:  # a training checkpoint: its EMA generator
        state = {k[len(_EMA_PREFIX):]: v for k, v in state.items() if k.startswith(_EMA_PREFIX)}
    try:
        # built on the meta device first: the model must match the file's tensors before it gets memory
        net = build_checked(lambda: build(**arch), path=path, state=state)
    except WeightsError as exc:
        if "does not describe" not in str(exc):
            raise
        raise WeightsError(f"{path}: model_config {cfg} is not {model_name} this plugin can build "
                           f"({exc.__cause__ or exc})") from exc
    load_into(net, {k: v.float() if v.is_floating_point() else v for k, v in state.items()}, source=str(path))
    if is_checkpoint:
        from .gan import recalibrate_batchnorm

        recalibrate_batchnorm(net, net.latent_dim, num_classes=int(getattr(net, "num_classes", 0)))
    size = arch.get("image_size", 28)
    return LoadedGenerator(net, cfg, path, (arch.get("channels", 1), size, size))


class TrainedGANGenerator(Generator):
    """A generator trained by ``pixelsmith train <component>``; ``weights`` None loads the shipped weights.

    ``weights`` may also be a ``generator.safetensors`` or a training checkpoint (its EMA generator);
    see :func:`load_generator_network`. A subclass sets the class attributes below.
    """

    component: ClassVar[str]                         #: the component name, as in ``pixelsmith train NAME``
    model_name: ClassVar[str]                        #: the architecture in errors, e.g. "a DCGAN"
    shipped_weights: ClassVar[WeightsFile]           #: what ``weights=None`` loads
    arch_keys: ClassVar[tuple[str, ...]]             #: the ``model_config`` keys ``network`` takes
    network: ClassVar[Callable[..., nn.Module]]      #: builds the network from those keys (e.g. its class)
    class_conditional: ClassVar[bool] = False        #: takes class labels (``num_classes`` in ``model_config``)

    def __init__(self, device: str | torch.device | None = None, weights: str | Path | None = None,
                 sha256: str | None = None) -> None:
        super().__init__(device)
        cls = type(self)
        loaded = load_generator_network(weights, sha256=sha256, shipped=cls.shipped_weights, build=cls.network,
                                        arch_keys=cls.arch_keys, component=cls.component,
                                        model_name=cls.model_name, conditional=cls.class_conditional)
        self.net = loaded.net.to(self.device).eval().requires_grad_(False)
        self.latent_dim = loaded.net.latent_dim
        self.output_shape = loaded.output_shape
        self.weights_path = loaded.path
        self.model_config = loaded.model_config
        self.num_classes = int(getattr(loaded.net, "num_classes", 0))

    @property
    def conditional(self) -> bool:
        return self.num_classes > 0

    def decode(self, z: torch.Tensor, batch_size: int = 512, labels: torch.Tensor | None = None) -> torch.Tensor:
        """As :meth:`pixelsmith.Generator.decode`; a conditional model without ``labels`` cycles through
        the classes (image ``i`` gets class ``i % num_classes``), so every class is equally represented."""
        if self.num_classes:
            labels = self._check_labels(labels, z.shape[0])
        return super().decode(z, batch_size=batch_size, labels=labels)

    def _check_labels(self, labels: Any, n: int) -> torch.Tensor:
        if labels is None:
            return torch.arange(n) % self.num_classes
        labels = torch.as_tensor(labels)
        if labels.ndim == 0:
            labels = labels.expand(n)
        if labels.shape != (n,) or labels.is_floating_point():
            raise InvalidInputError(f"labels must be one integer or {n} integers, got shape {tuple(labels.shape)}")
        if n and (int(labels.min()) < 0 or int(labels.max()) >= self.num_classes):
            raise InvalidInputError(f"labels must be in 0..{self.num_classes - 1}, got "
                                    f"{int(labels.min())}..{int(labels.max())}")
        return labels.long()

    def _decode(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        return self.net(z, labels) if self.num_classes else self.net(z)


def split_architecture_options(config: TrainConfig, defaults: Mapping[str, int]) -> tuple[TrainConfig, dict[str, int]]:
    """Take the architecture options (the keys of ``defaults``) out of ``config.extra``.

    Returns ``config`` without them and the options, ``defaults`` filled in with what was given;
    a value that is not an integer raises :class:`TrainingError` naming the key.
    """
    extra = dict(config.extra)
    arch = dict(defaults)
    for key in defaults:
        if key in extra:
            value = extra.pop(key)
            try:
                arch[key] = int(value)
            except (TypeError, ValueError) as exc:
                raise TrainingError(f"{key}={value!r}: expected an integer") from exc
    return dataclasses.replace(config, extra=extra), arch
