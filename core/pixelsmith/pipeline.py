"""Chain degradations and a restorer over images and measure the result: :class:`Pipeline`.

>>> import pixelsmith, torch
>>> pipe = pixelsmith.Pipeline(degradations=[("gaussian-noise", {"sigma": 0.1})],
...                            restorer="unet-denoise", metrics=["psnr"], seed=0)  # doctest: +SKIP
>>> for record in pipe.run(torch.rand(8, 1, 32, 32)):                             # doctest: +SKIP
...     print(record.name, record.metrics["psnr"])

Design choices, and why:

- **Streaming**: :meth:`Pipeline.run` is a generator of one :class:`PipelineRecord` per image;
  images are loaded lazily and at most ``batch_size`` are held at once, so a folder of any size
  runs in bounded memory.
- **Reproducible whatever the batching**: image ``i`` is degraded by degradation ``j`` with its
  own seed, :func:`image_seed` ``(seed, i, j)``, one image at a time; batch size only changes how
  many images the restorer sees per call (restorers must be batch independent, which the
  conformance kit checks).
- **Errors per image**: with ``on_error="record"`` an image that cannot be read or restored
  yields a record whose ``error`` says why, and the run goes on (the CLI's folder restore).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal, Mapping, Sequence, Union

import numpy as np
import torch

from .components import Degradation, Metric, Restorer, combine_truth
from .errors import InvalidInputError, PixelsmithError, ResourceError, is_out_of_memory
from .io import ImageData, iter_image_files, read_image_data
from .tensors import as_image_batch, default_device

__all__ = ["Pipeline", "PipelineRecord", "PipelineSummary", "image_seed"]

DegradationLike = Union[Degradation, str, tuple[str, Mapping[str, Any]]]
MetricLike = Union[Metric, str]
RestorerLike = Union[Restorer, str]


def image_seed(seed: int, index: int, stage: int = 0) -> int:
    """The seed of stage ``stage`` (the j-th degradation) on image ``index`` of a run seeded ``seed``.

    Derived with numpy's ``SeedSequence`` so neighbouring images and stages get unrelated streams;
    a bench or a user can recompute it to reproduce one image of a run alone.

    >>> image_seed(0, 3) == image_seed(0, 3) != image_seed(0, 4)
    True
    """
    state = np.random.SeedSequence([int(seed), int(index), int(stage)]).generate_state(2, np.uint32)
    return (int(state[0]) << 31 | int(state[1]) >> 1) & ((1 << 63) - 1)


@dataclass
class PipelineRecord:
    """What happened to one image.

    Tensors are ``1×C×H×W`` on the CPU. ``clean`` is the input, ``degraded`` the input after the
    degradations (``None`` without any), ``restored`` the restorer's output (``None`` without a
    restorer). ``metrics`` compare :attr:`output` with ``clean``; ``baseline`` compares
    ``degraded`` with ``clean`` (what the restorer started from). ``info`` is what the degradations
    did (σ, kernel, mask…); ``truth`` the same in the restorers' vocabulary (see
    :attr:`pixelsmith.Degraded.truth`: what ``pass_true_params`` gives the restorer); ``seconds`` is the restorer's wall time for this image (its batch's
    time divided by the batch size). ``error`` is set, and the images are ``None``, when the image
    could not be processed (only with ``on_error="record"``).
    """

    index: int
    name: str
    clean: torch.Tensor | None = None
    degraded: torch.Tensor | None = None
    restored: torch.Tensor | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    baseline: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    truth: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    source: ImageData | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def output(self) -> torch.Tensor | None:
        """The last image the pipeline produced: restored, else degraded, else clean."""
        for image in (self.restored, self.degraded, self.clean):
            if image is not None:
                return image
        return None


@dataclass(frozen=True)
class PipelineSummary:
    """Means over a run: ``metrics[name]`` (output vs clean), ``baseline[name]`` (degraded vs clean)."""

    count: int
    failed: int
    metrics: dict[str, float]
    baseline: dict[str, float]
    seconds: float
    settings: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "failed": self.failed, "metrics": dict(self.metrics),
                "baseline": dict(self.baseline), "seconds": self.seconds, "settings": dict(self.settings)}


@dataclass
class _Item:
    index: int
    name: str
    image: torch.Tensor | None = None
    source: ImageData | None = None
    path: Path | None = None


class Pipeline:
    """Degrade, restore and measure images, streaming, on any device.

    Args:
        degradations: applied in order; each a :class:`~pixelsmith.Degradation`, a registered name,
            or ``(name, params)``.
        restorer: a :class:`~pixelsmith.Restorer` or a registered name (built on ``device`` with
            ``restorer_options``); ``None`` to only degrade and measure.
        metrics: :class:`~pixelsmith.Metric` instances or names, computed per image against the clean
            input.
        params: fixed keyword parameters for every ``restore()`` call.
        pass_true_params: give the restorer the degradation facts it declares in ``spec.requires``
            or ``spec.accepts`` (e.g. the true ``sigma`` or ``kernel``), a "non-blind" run.
        device: where degradations and the restorer run (default: CUDA when available).
        seed: the run's seed; image ``i`` uses :func:`image_seed` ``(seed, i, j)`` for degradation ``j``.
        batch_size: images per ``restore()`` call; only images of equal shape are batched.
        on_error: ``"raise"`` stops at the first unreadable or failing image; ``"record"`` yields a
            record with ``error`` set and goes on.
    """

    def __init__(
        self,
        degradations: Sequence[DegradationLike] = (),
        restorer: RestorerLike | None = None,
        metrics: Sequence[MetricLike] = (),
        *,
        params: Mapping[str, Any] | None = None,
        pass_true_params: bool = False,
        device: str | torch.device | None = None,
        seed: int = 0,
        batch_size: int = 1,
        restorer_options: Mapping[str, Any] | None = None,
        on_error: Literal["raise", "record"] = "raise",
    ) -> None:
        from . import api

        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise InvalidInputError(f"seed must be a non-negative int, got {seed!r}")
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise InvalidInputError(f"batch_size must be a positive int, got {batch_size!r}")
        if on_error not in ("raise", "record"):
            raise InvalidInputError(f"on_error must be 'raise' or 'record', got {on_error!r}")
        self.device = default_device(device)
        self.seed = seed
        self.batch_size = batch_size
        self.on_error = on_error
        self.pass_true_params = pass_true_params
        self.params = dict(params or {})
        if isinstance(degradations, (str, Degradation)) or (isinstance(degradations, tuple) and len(degradations) == 2
                                                            and isinstance(degradations[0], str)
                                                            and isinstance(degradations[1], Mapping)):
            degradations = [degradations]  # one degradation given without its list
        if isinstance(metrics, (str, Metric)):
            metrics = [metrics]
        self.degradations: list[Degradation] = [self._degradation(d, api) for d in degradations]
        if restorer is None or isinstance(restorer, Restorer):
            self.restorer = restorer
        elif isinstance(restorer, str):
            self.restorer = api.restorer(restorer, device=self.device, **dict(restorer_options or {}))
        else:
            raise InvalidInputError(
                f"restorer must be a pixelsmith.Restorer, a registered name or None, got {type(restorer).__name__}"
            )
        spec = getattr(self.restorer, "spec", None)
        if spec is not None and self.params:  # a typo in params would otherwise fail every image
            from .components import check_parameter_names

            check_parameter_names(self.params, (*spec.requires, *spec.accepts), what=f"restorer {spec.name!r}")
        self.metrics: dict[str, Metric] = {}
        for m in metrics:
            metric = api.metric(m) if isinstance(m, str) else m
            if not isinstance(metric, Metric):
                raise InvalidInputError(f"metrics must be pixelsmith.Metric instances or names, got {m!r}")
            self.metrics[m if isinstance(m, str) else metric.name] = metric

    @staticmethod
    def _degradation(d: DegradationLike, api: Any) -> Degradation:
        if isinstance(d, Degradation):
            return d
        if isinstance(d, str):
            return api.degradation(d)
        if isinstance(d, tuple) and len(d) == 2 and isinstance(d[0], str) and isinstance(d[1], Mapping):
            return api.degradation(d[0], **dict(d[1]))
        raise InvalidInputError(
            f"a degradation must be a pixelsmith.Degradation, a name or (name, params), got {d!r}"
        )

    # -- public -----------------------------------------------------------------------------------
    @property
    def settings(self) -> dict[str, Any]:
        """Everything that changes the numbers, for reports."""
        restorer = self.restorer
        return {
            "degradations": [{"name": d.name, **_plain(d.params)} for d in self.degradations],
            "restorer": None if restorer is None else restorer.name,
            "params": _plain(self.params),
            "pass_true_params": self.pass_true_params,
            "metrics": {name: _plain(getattr(m, "settings", {})) for name, m in self.metrics.items()},
            "seed": self.seed,
            "device": str(self.device),
        }

    def run(self, images: Any) -> Iterator[PipelineRecord]:
        """Yield one :class:`PipelineRecord` per image, in input order.

        ``images``: a ``B×C×H×W`` tensor (or ``C×H×W``); a file or folder path; or an iterable of
        tensors, arrays, paths or ``(name, image)`` pairs. Paths are read only when their batch is
        processed.
        """
        pending: list[_Item] = []
        for item in self._items(images):
            if item.image is None and item.path is not None:
                try:
                    item.source = read_image_data(item.path)
                    item.image = item.source.image
                except PixelsmithError as exc:
                    if self.on_error == "raise":
                        raise
                    yield from self._flush(pending)
                    pending = []
                    yield PipelineRecord(index=item.index, name=item.name, error=str(exc))
                    continue
            if pending and (len(pending) >= self.batch_size or pending[0].image.shape != item.image.shape):
                yield from self._flush(pending)
                pending = []
            pending.append(item)
        yield from self._flush(pending)

    def evaluate(self, images: Any) -> PipelineSummary:
        """Run over ``images`` and return the means; nothing but running sums is kept."""
        sums: dict[str, float] = {}
        base: dict[str, float] = {}
        count = failed = 0
        seconds = 0.0
        for record in self.run(images):
            if not record.ok:
                failed += 1
                continue
            count += 1
            seconds += record.seconds
            for name, value in record.metrics.items():
                sums[name] = sums.get(name, 0.0) + value
            for name, value in record.baseline.items():
                base[name] = base.get(name, 0.0) + value
        mean = {k: v / count for k, v in sums.items()} if count else {}
        base_mean = {k: v / count for k, v in base.items()} if count else {}
        return PipelineSummary(count, failed, mean, base_mean, seconds, self.settings)

    # -- internals --------------------------------------------------------------------------------
    def _items(self, images: Any) -> Iterator[_Item]:
        if isinstance(images, (str, os.PathLike)):
            for index, (path, rel) in enumerate(iter_image_files(images)):
                yield _Item(index, rel.as_posix(), path=path)
            return
        if isinstance(images, (torch.Tensor, np.ndarray)):
            batch = as_image_batch(images, name="images")
            for index in range(batch.shape[0]):
                yield _Item(index, str(index), image=batch[index:index + 1])
            return
        try:
            iterator = iter(images)
        except TypeError:
            raise InvalidInputError(
                f"images must be a tensor, a path or an iterable of images, got {type(images).__name__}"
            ) from None
        for index, element in enumerate(iterator):
            name: str | None = None
            if isinstance(element, tuple) and len(element) == 2 and isinstance(element[0], str):
                name, element = element
            if isinstance(element, (str, os.PathLike)):
                path = Path(element)
                yield _Item(index, name if name is not None else path.name, path=path)
                continue
            name = name if name is not None else str(index)
            image = as_image_batch(element, name=f"image {name}")
            if image.shape[0] != 1:
                raise InvalidInputError(
                    f"image {name}: each element of the iterable must be one image, got a batch of "
                    f"{image.shape[0]}; pass the batch tensor itself instead"
                )
            yield _Item(index, name, image=image)

    def _flush(self, items: list[_Item]) -> Iterator[PipelineRecord]:
        if not items:
            return
        try:
            records = self._process(items)
        except Exception as exc:  # noqa: BLE001 - PixelsmithErrors, and running out of memory anywhere
            if not isinstance(exc, PixelsmithError):
                if not is_out_of_memory(exc):
                    raise
                shape = tuple(items[0].image.shape) if items[0].image is not None else "?"
                exc = ResourceError(f"out of memory on an image of shape {shape} ({type(exc).__name__}: "
                                    f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''})")
            if self.on_error == "raise":
                raise exc
            if len(items) > 1:
                # one bad image must not take its batch-mates down: retry them one by one
                for item in items:
                    yield from self._flush([item])
                return
            item = items[0]
            yield PipelineRecord(index=item.index, name=item.name, source=item.source,
                                 error=f"{item.name}: {exc}")
            return
        yield from records

    def _process(self, items: list[_Item]) -> list[PipelineRecord]:
        clean = [item.image.to(self.device) for item in items]
        degraded: list[torch.Tensor] = []
        infos: list[dict[str, Any]] = []
        truths: list[dict[str, Any]] = []
        for item, image in zip(items, clean):
            info: dict[str, Any] = {}
            truth: dict[str, Any] = {}
            for stage, degradation in enumerate(self.degradations):
                result = degradation.apply(image, seed=image_seed(self.seed, item.index, stage))
                image = result.image
                info.update(result.info)
                info.setdefault("steps", []).append(dict(result.info))
                truth = combine_truth(truth, result.truth)
            degraded.append(image)
            infos.append(info)
            truths.append(truth)

        restored: list[torch.Tensor] | None = None
        seconds = [0.0] * len(items)
        if self.restorer is not None:
            restored, seconds = self._restore(degraded, truths)

        records = []
        for i, item in enumerate(items):
            output = restored[i] if restored is not None else degraded[i]
            metrics = {name: float(m(output, clean[i])[0]) for name, m in self.metrics.items()}
            baseline = ({name: float(m(degraded[i], clean[i])[0]) for name, m in self.metrics.items()}
                        if self.degradations and restored is not None else {})
            info = {k: v for k, v in infos[i].items() if k != "steps"}
            if self.degradations:
                info["steps"] = infos[i]["steps"]
            records.append(PipelineRecord(
                index=item.index,
                name=item.name,
                clean=clean[i].cpu(),
                degraded=degraded[i].cpu() if self.degradations else None,
                restored=None if restored is None else restored[i].cpu(),
                metrics=metrics,
                baseline=baseline,
                info=info,
                truth=truths[i],
                seconds=seconds[i],
                source=item.source,
            ))
        return records

    def _restore_params(self, truth: Mapping[str, Any]) -> dict[str, Any]:
        params = dict(self.params)
        spec = self.restorer.spec if self.restorer is not None else None
        if self.pass_true_params and spec is not None:
            # the degradations' truth is in the restorers' vocabulary (a blur's own `sigma`, its
            # width, is not the noise `sigma` a restorer means): hand over what the spec declares
            for key in (*spec.requires, *spec.accepts):
                if key in truth and key not in params:
                    params[key] = truth[key]
        return params

    def _restore(self, degraded: list[torch.Tensor], truths: list[dict[str, Any]]
                 ) -> tuple[list[torch.Tensor], list[float]]:
        assert self.restorer is not None  # for type checkers; callers check
        params = [self._restore_params(truth) for truth in truths]
        # one call for the batch when every image gets the same parameters, else one call each
        if all(_same(params[0], p) for p in params[1:]):
            groups = [list(range(len(degraded)))]
        else:
            groups = [[i] for i in range(len(degraded))]
        out: list[torch.Tensor] = [degraded[0]] * len(degraded)
        seconds = [0.0] * len(degraded)
        for group in groups:
            batch = torch.cat([degraded[i] for i in group])
            _sync(self.device)
            start = time.perf_counter()
            result = self.restorer.restore(batch, **params[group[0]])
            _sync(self.device)
            elapsed = (time.perf_counter() - start) / len(group)
            for j, i in enumerate(group):
                out[i] = result[j:j + 1]
                seconds[i] = elapsed
        return out, seconds


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    if a.keys() != b.keys():
        return False
    for key in a:
        x, y = a[key], b[key]
        if isinstance(x, torch.Tensor) or isinstance(y, torch.Tensor):
            if not (isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor)
                    and x.shape == y.shape and bool(torch.equal(x.cpu(), y.cpu()))):
                return False
        else:
            try:
                if bool(x != y):
                    return False
            except Exception:  # noqa: BLE001 - incomparable values: do not batch them together
                return False
    return True


def _plain(value: Any) -> Any:
    """A JSON-friendly copy: tensors become shapes, not data (a kernel or mask can be large)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, torch.Tensor):
        return value.item() if value.numel() == 1 else f"tensor{tuple(value.shape)}"
    if isinstance(value, np.ndarray):
        return value.item() if value.size == 1 else f"array{value.shape}"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value
