"""The GAN scaffolding: everything a generator plugin needs but its networks.

The GAN plugins (``dcgan``, ``mlp-gan``) are separate distributions that differ only in their
networks; the rest lives here:

- :class:`TrainedGANGenerator`: a :class:`pixelsmith.Generator` that a plugin subclasses by naming
  its networks, architecture options, shipped weights and summary. The subclass then has its
  ``pixelsmith train`` command (:meth:`~TrainedGANGenerator.train_function`, the shared GAN trainer
  with the options declared), its checkpoint export (:meth:`~TrainedGANGenerator.export_checkpoint`),
  its export graph and its registration (:meth:`~TrainedGANGenerator.generator_spec`);
- :func:`load_generator_network`: a shipped weights file, a ``generator.safetensors`` or a training
  checkpoint (its EMA generator, batch-norm statistics re-estimated) -> the network it describes;
- :func:`architecture_options` and :func:`split_architecture_options`: the integer architecture
  options read from ``model_config`` metadata or taken out of ``TrainConfig.extra``;
- :func:`check_labels` and :func:`latent_input`: the label check and the ``[z, one-hot label]`` input
  the class-conditional networks share.
"""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterable, Mapping, NamedTuple

import torch
from torch import nn

from ..components import Generator
from ..errors import InvalidInputError, TrainingError, WeightsError
from ..specs import GeneratorSpec, WeightsFile
from ..weights import Field, build_checked, load_into, load_weights, read_metadata, validate_metadata
from .config import TrainConfig

__all__ = ["LoadedGenerator", "load_generator_network", "TrainedGANGenerator", "architecture_options",
           "split_architecture_options", "check_labels", "latent_input", "call_with_options", "build_from_config"]

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


def load_generator_network(weights: str | Path | None, *, sha256: str | None, shipped: WeightsFile | None,
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
    if weights is None and shipped is None:
        raise WeightsError(f"`{component}` ships no weights; pass weights= (a generator.safetensors or a "
                           f"checkpoint of `pixelsmith train {component}`)")
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
    schema = {"model_config": Field(dict, fields={
        **{k: Field(int, required=False, low=0, high=1 << 20) for k in keys},
        "self_condition": Field(int, required=False, low=0, high=4096)})}
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
        net = build_checked(lambda: build_from_config(build, arch, cfg), path=path, state=state)
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


def build_from_config(build: Callable[..., nn.Module], arch: Mapping[str, int], model_config: Mapping[str, Any]
                      ) -> nn.Module:
    """``build(**arch)``, or for a self-conditioned run (``self_condition`` k in ``model_config``) the
    class-conditional network over k clusters inside a :class:`~.self_condition.SelfConditionedGenerator`;
    for a class-conditional model over C classes, the network over C·k fine labels inside a
    :class:`~.self_condition.SubclassConditionedGenerator`."""
    k = int(model_config.get("self_condition", 0) or 0)
    if not k:
        return build(**arch)
    from .self_condition import SelfConditionedGenerator, SubclassConditionedGenerator

    if model_config.get("conditional"):
        classes = int(model_config["num_classes"])
        return SubclassConditionedGenerator(build(**{**arch, "num_classes": classes * k}), classes)
    return SelfConditionedGenerator(build(**{**arch, "num_classes": k}))


def call_with_options(build: Callable[..., nn.Module], options: Mapping[str, Any]) -> nn.Module:
    """``build(**options)`` with only the options its signature takes (a network class or a function)."""
    return build(**{k: v for k, v in options.items() if k in _parameters(build)})


def _parameters(build: Callable[..., Any]) -> tuple[str, ...]:
    return tuple(inspect.signature(build).parameters)


def check_labels(labels: torch.Tensor | None, n: int, num_classes: int) -> torch.Tensor | None:
    """For a network's ``forward(x, labels=None)``: None for an unconditional network (``num_classes``
    0, which refuses labels), else the ``n`` labels as int64; ``ValueError`` otherwise."""
    if num_classes == 0:
        if labels is not None:
            raise ValueError("this network is not class-conditional; pass no labels")
        return None
    if labels is None or labels.shape != (n,):
        raise ValueError(f"a class-conditional network needs one label per image ({n}), "
                         f"got {None if labels is None else tuple(labels.shape)}")
    return labels.long()


def latent_input(z: torch.Tensor, labels: torch.Tensor | None, latent_dim: int, num_classes: int) -> torch.Tensor:
    """A generator's input: ``z`` as ``B×latent_dim``, followed by the one-hot labels when the network is
    class-conditional (Mirza & Osindero 2014); the labels are checked with :func:`check_labels`."""
    labels = check_labels(labels, z.shape[0], num_classes)
    z = z.reshape(z.shape[0], latent_dim)
    if labels is not None:
        z = torch.cat([z, nn.functional.one_hot(labels, num_classes).to(z.dtype)], dim=1)
    return z


class TrainedGANGenerator(Generator):
    """A generator trained by ``pixelsmith train <component>``; ``weights`` None loads the shipped weights.

    ``weights`` may also be a ``generator.safetensors`` or a training checkpoint (its EMA generator);
    see :func:`load_generator_network`. A subclass sets the class attributes below; a class-conditional
    variant subclasses it again with its own ``component``, ``model_name``, ``summary``,
    ``shipped_weights`` and ``class_conditional = True``.

    ``network`` and ``discriminator`` are built with the architecture options their signatures take,
    from ``model_defaults`` (keys such as ``latent_dim``, ``image_size``, ``channels`` and widths)
    and ``num_classes`` (0 for the unconditional variant). The generator must have ``latent_dim`` and
    ``num_classes`` attributes and map ``(z[, labels])`` to images in [0, 1]; the discriminator maps
    ``(x[, labels])`` to one logit per image.
    """

    component: ClassVar[str]                         #: the component name, as in ``pixelsmith train NAME``
    model_name: ClassVar[str]                        #: the architecture in errors, e.g. "a DCGAN"
    shipped_weights: ClassVar[WeightsFile | None]    #: what ``weights=None`` loads
    network: ClassVar[Callable[..., nn.Module]]      #: the generator network (e.g. its class)
    discriminator: ClassVar[Callable[..., nn.Module]]  #: the discriminator network, for training
    model_defaults: ClassVar[Mapping[str, int]]      #: architecture options (``key=value`` of ``pixelsmith train``)
    summary: ClassVar[str] = ""                      #: the spec's one-line summary
    version: ClassVar[str] = "0.0.0"                 #: the spec's version (the plugin's)
    class_conditional: ClassVar[bool] = False        #: takes class labels (``num_classes`` in ``model_config``)
    num_classes_default: ClassVar[int] = 10          #: ``num_classes`` of a class-conditional run unless given

    @classmethod
    def architecture_defaults(cls) -> dict[str, int]:
        """The architecture options of ``pixelsmith train <component>`` and their defaults."""
        defaults = dict(cls.model_defaults)
        if cls.class_conditional:
            defaults.setdefault("num_classes", cls.num_classes_default)
        return defaults

    @classmethod
    def arch_keys(cls) -> tuple[str, ...]:
        """The ``model_config`` keys the generator network takes (what a weights file must describe)."""
        keys = (*cls.model_defaults, "num_classes")
        return tuple(k for k in dict.fromkeys(keys) if k in _parameters(cls.network))

    @classmethod
    def run_training(cls, config: TrainConfig) -> Path:
        """``pixelsmith train <component>``: the shared GAN trainer (:class:`~pixelsmith.training.gan.GANTrainer`)
        with this class's networks; architecture options come out of ``config.extra``. Returns the last
        checkpoint and writes ``generator.safetensors``."""
        from .gan import train_gan

        config, arch = split_architecture_options(config, cls.architecture_defaults())
        num_classes = arch.get("num_classes", 0)
        try:
            clusters = int(config.extra.get("self_condition", 0))
        except (TypeError, ValueError) as exc:
            raise TrainingError(f"self_condition={config.extra['self_condition']!r}: expected an integer") from exc
        # a self-conditioned run builds the class-conditional networks over its clusters (for a
        # class-conditional component, over its classes' clusters: num_classes × clusters fine labels)
        fine_classes = (num_classes if cls.class_conditional else 1) * clusters
        options = {**arch, "num_classes": fine_classes or num_classes}
        try:  # say what is wrong with the options before any data is loaded
            if cls.class_conditional and num_classes < 2:
                raise ValueError(f"num_classes must be at least 2, got {num_classes}")
            if clusters == 1 or clusters < 0:
                raise ValueError(f"self_condition must be 0 (off) or at least 2 clusters, got {clusters}")
            call_with_options(cls.network, options)
        except ValueError as exc:
            raise TrainingError(str(exc)) from exc

        # the generator as a weights file of this run will describe it (self-conditioned: wrapped)
        generator_config = {"self_condition": clusters, "conditional": cls.class_conditional,
                            "num_classes": num_classes}
        return train_gan(
            config, component=cls.component,
            build_generator=lambda: build_from_config(lambda **o: call_with_options(cls.network, o), arch,
                                                      generator_config),
            build_discriminator=lambda: call_with_options(cls.discriminator, options),
            latent_dim=arch["latent_dim"], image_size=arch["image_size"], channels=arch["channels"],
            conditional=cls.class_conditional, model_config=arch,
            defaults={"num_classes": num_classes} if cls.class_conditional else None)

    @classmethod
    def train_function(cls) -> Callable[[TrainConfig], Path]:
        """:meth:`run_training` as the spec's ``train`` callable, with its ``key=value`` options declared
        (checked by ``pixelsmith train`` before any work). The same object on every call."""
        fn = cls.__dict__.get("_train_function")
        if fn is None:
            from .gan import GAN_DEFAULTS
            from .options import declare_options, gan_options

            def train(config: TrainConfig) -> Path:
                return cls.run_training(config)

            train.__name__ = train.__qualname__ = f"train_{cls.component.replace('-', '_')}"
            train.__module__ = cls.__module__
            options = ", ".join(cls.architecture_defaults())
            train.__doc__ = (f"``pixelsmith train {cls.component}``: the shared GAN trainer with {cls.model_name} "
                             f"(architecture options {options}; trainer options {', '.join(GAN_DEFAULTS)}).")
            fn = declare_options(train, gan_options(cls.architecture_defaults()))
            cls._train_function = fn
        return fn

    @classmethod
    def export_checkpoint(cls, checkpoint: str | Path, out: str | Path, *, half: bool = False) -> str:
        """Write a training checkpoint's EMA generator as a shippable weights file (float16 storage
        with ``half``); returns its sha256."""
        from .gan import export_generator

        return export_generator(
            checkpoint, out, lambda cfg: build_from_config(cls.network, architecture_options(cfg, cls.arch_keys()), cfg),
            half=half)

    @classmethod
    def generator_spec(cls) -> GeneratorSpec:
        """The spec a plugin's ``pixelsmith_register_generators`` hook returns for this component."""
        arch = cls.architecture_defaults()
        size = int(arch.get("image_size", 28))
        return GeneratorSpec(name=cls.component, factory=cls, summary=cls.summary, version=cls.version,
                             output_shape=(int(arch.get("channels", 1)), size, size), weights=cls.shipped_weights,
                             train=cls.train_function(), conditional=cls.class_conditional)

    def __init__(self, device: str | torch.device | None = None, weights: str | Path | None = None,
                 sha256: str | None = None) -> None:
        super().__init__(device)
        cls = type(self)
        loaded = load_generator_network(weights, sha256=sha256, shipped=cls.shipped_weights, build=cls.network,
                                        arch_keys=cls.arch_keys(), component=cls.component,
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

    def export_graph(self, *, inputs: tuple[str, ...] = (), channels: int | None = None) -> Any:
        """The export graph (:mod:`pixelsmith.export`): ``z`` (and ``labels`` when class-conditional) → images."""
        from ..export import generator_graph

        return generator_graph(self, self.net, inputs=inputs, channels=channels)


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
