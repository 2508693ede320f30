"""Bench tasks: clean images × one degradation with fixed parameters and seeds × metrics.

A :class:`Task` is pure data (no tensors), so the list of tasks of a run can be written to
``results.json`` and compared between runs. Images are loaded separately (:func:`load_images`)
and every degraded image is drawn with :func:`image_seed`, a stable function of the task and
image names: the same command gives the same degraded inputs, and so the same metric values.
"""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import torch

from ..errors import InvalidInputError

__all__ = [
    "Task",
    "SUITES",
    "DEFAULT_METRICS",
    "BenchPlan",
    "image_seed",
    "restoration_tasks",
    "robustness_tasks",
    "load_images",
    "restorer_params",
    "make_plan",
    "CustomTask",
    "parse_task",
    "custom_tasks",
]

SUITES = ("restoration", "generation", "robustness")
#: the suite of the tasks added with ``--task``
CUSTOM_SUITE = "custom"
#: Full-reference metrics computed for every restoration record (when registered).
DEFAULT_METRICS = ("psnr", "ssim")
#: Gaussian-noise levels (8-bit scale) of the restoration suite; σ = level / 255 on [0, 1].
DENOISE_LEVELS = (15, 25, 50)
ROBUSTNESS_LEVELS = (5, 10, 15, 25, 35, 50, 75)
QUICK_ROBUSTNESS_LEVELS = (10, 25, 50)
BLUR_NOISE = 0.01


@dataclass(frozen=True)
class Task:
    """One benchmark task; ``task`` is the restoration task it poses (``denoise``, ``deblur``...)."""

    name: str
    suite: str
    task: str
    degradation: str
    params: dict[str, Any]
    channels: int
    images: tuple[str, ...]
    #: the swept quantity, for curves: ("sigma", 25.0) or ("amount", 0.1); None when not swept
    level_name: str | None = None
    level: float | None = None
    #: curves group tasks of one family (e.g. every "gaussian-noise" level)
    family: str = ""
    note: str = ""

    def seed(self, image: str) -> int:
        return image_seed(self.name, image)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["images"] = list(self.images)
        d["seeds"] = {img: self.seed(img) for img in self.images}
        return d


def image_seed(task_name: str, image: str) -> int:
    """A seed fixed by the task and image names (crc32: stable across processes, unlike ``hash``)."""
    return zlib.crc32(f"{task_name}/{image}".encode()) & 0x7FFFFFFF


def _noise_task(suite: str, level: int, channels: int, images: tuple[str, ...]) -> Task:
    space = "gray" if channels == 1 else "rgb"
    return Task(name=f"denoise-{space}-s{level}", suite=suite, task="denoise", degradation="gaussian-noise",
                params={"sigma": level / 255.0}, channels=channels, images=images,
                level_name="sigma", level=float(level), family=f"gaussian-noise-{space}")


def restoration_tasks(*, quick: bool, gray: tuple[str, ...], rgb: tuple[str, ...]) -> list[Task]:
    """The restoration suite: denoising (gray and RGB), salt-and-pepper, Gaussian and motion blur."""
    levels = (25,) if quick else DENOISE_LEVELS
    tasks = [_noise_task("restoration", s, 1, gray) for s in levels]
    if rgb:
        tasks += [_noise_task("restoration", s, 3, rgb) for s in levels]
    for amount in ((0.3,) if quick else (0.1, 0.3)):
        tasks.append(Task(name=f"impulse-gray-sp{round(amount * 100)}", suite="restoration", task="impulse",
                          degradation="salt-and-pepper", params={"amount": amount}, channels=1, images=gray,
                          level_name="amount", level=amount, family="salt-and-pepper-gray"))
    tasks.append(Task(name="deblur-gray-gauss2", suite="restoration", task="deblur", degradation="gaussian-blur",
                      params={"sigma": 2.0, "noise": BLUR_NOISE}, channels=1, images=gray,
                      family="gaussian-blur-gray"))
    if not quick:
        tasks.append(Task(name="deblur-gray-motion9", suite="restoration", task="deblur",
                          degradation="motion-blur", params={"length": 9, "angle": 30.0, "noise": BLUR_NOISE},
                          channels=1, images=gray, family="motion-blur-gray"))
    return tasks


def robustness_tasks(*, quick: bool, gray: tuple[str, ...]) -> list[Task]:
    """Every restorer across a sweep of noise levels and degradation types, in domain or not."""
    levels = QUICK_ROBUSTNESS_LEVELS if quick else ROBUSTNESS_LEVELS
    tasks = [Task(name=f"robust-noise-s{s}", suite="robustness", task="denoise", degradation="gaussian-noise",
                  params={"sigma": s / 255.0}, channels=1, images=gray, level_name="sigma", level=float(s),
                  family="gaussian-noise") for s in levels]
    others = [
        ("robust-poisson", "poisson", "poisson-noise", {}),
        ("robust-sp05", "impulse", "salt-and-pepper", {"amount": 0.05}),
        ("robust-gauss-blur1.5", "deblur", "gaussian-blur", {"sigma": 1.5, "noise": BLUR_NOISE}),
    ]
    if not quick:
        others += [
            ("robust-sp20", "impulse", "salt-and-pepper", {"amount": 0.2}),
            ("robust-motion7", "deblur", "motion-blur", {"length": 7, "angle": 0.0, "noise": BLUR_NOISE}),
        ]
    tasks += [Task(name=n, suite="robustness", task=t, degradation=d, params=p, channels=1, images=gray,
                   family="other") for n, t, d, p in others]
    return tasks


@dataclass(frozen=True)
class CustomTask:
    """A task asked for with ``--task DEGRADATION[:k=v,…]``: any registered degradation, with params.

    ``kind`` is the restoration task the degradation's spec poses (it decides which restorers run);
    ``channels`` 1 runs it on the gray images, 3 on the colour ones.
    """

    degradation: str
    params: dict[str, Any]
    kind: str
    channels: int = 1

    @property
    def name(self) -> str:
        """A stable task name (it seeds the degraded images): ``my-blur-sigma2-noise0.01[-rgb]``."""
        parts = [self.degradation] + [f"{k}{_compact(v)}" for k, v in self.params.items()]
        return "-".join(parts) + ("-rgb" if self.channels == 3 else "")


def _compact(value: Any) -> str:
    text = f"{value:.6g}" if isinstance(value, float) else str(value)
    return "".join(c if c.isalnum() or c in ".-_" else "_" for c in text)


def parse_task(text: str) -> tuple[str, dict[str, Any], int]:
    """``"my-blur:sigma=2,noise=0.01"`` -> ``("my-blur", {"sigma": 2, "noise": 0.01}, 1)``.

    Values are read like ``pixelsmith degrade`` reads them (numbers, true/false, none, JSON lists);
    ``channels=3`` is not a parameter of the degradation but runs the task on colour images.
    """
    from ..cli._common import parse_value

    name, _, rest = text.partition(":")
    if not name.strip():
        raise InvalidInputError(f"--task {text!r}: expected DEGRADATION[:key=value,...], e.g. "
                                "--task gaussian-blur:sigma=2,noise=0.01")
    items: list[str] = []
    for piece in rest.split(",") if rest.strip() else []:
        if "=" in piece or not items:
            items.append(piece)
        else:  # a comma inside a value, e.g. a JSON list
            items[-1] += "," + piece
    params: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInputError(f"--task {text!r}: expected key=value after ':', got {item!r}; "
                                    "e.g. --task gaussian-blur:sigma=2,noise=0.01")
        params[key.strip().replace("-", "_")] = parse_value(value)
    channels = params.pop("channels", 1)
    if channels not in (1, 3):
        raise InvalidInputError(f"--task {text!r}: channels must be 1 (gray images) or 3 (colour), got {channels!r}")
    return name.strip(), params, channels


def custom_tasks(requests: Iterable[CustomTask], *, gray: tuple[str, ...], rgb: tuple[str, ...]) -> list[Task]:
    """The ``--task`` tasks, on the run's gray (or colour) images; duplicates are dropped."""
    tasks: dict[str, Task] = {}
    for r in requests:
        space = "gray" if r.channels == 1 else "rgb"
        tasks.setdefault(r.name, Task(name=r.name, suite=CUSTOM_SUITE, task=r.kind, degradation=r.degradation,
                                      params=dict(r.params), channels=r.channels,
                                      images=gray if r.channels == 1 else rgb, family=f"{r.degradation}-{space}",
                                      note="added with --task"))
    return list(tasks.values())


@dataclass
class BenchPlan:
    """What a run will do: tasks, image size and count, and the caps that keep --quick quick."""

    tasks: list[Task]
    size: int | None
    generation: bool
    quick: bool
    data: Path | None = None
    #: generation: samples per generator and real images per reference set
    n_samples: int = 2000
    grid_samples: int = 64
    #: a component whose time on one task exceeds this skips that task's remaining images
    time_cap_s: float | None = None
    notes: list[str] = field(default_factory=list)


def _folder_names(data: Path) -> tuple[str, ...]:
    from ..data.folder import list_image_files

    files = list_image_files(data)
    if not files:
        raise InvalidInputError(f"--data {data}: no images found in that folder")
    return tuple(str(p.relative_to(data)) for p in files)


def make_plan(*, quick: bool, suites: Iterable[str], data: str | Path | None = None,
              custom: Iterable[CustomTask] = ()) -> BenchPlan:
    """The tasks of a run. ``--quick``: 2 images at 128², σ 25, one blur, one impulse level.
    ``custom``: tasks added with ``--task`` (suite ``custom``), on the same images."""
    suites = tuple(suites)
    bad = [s for s in suites if s not in SUITES]
    if bad:
        raise InvalidInputError(f"unknown suite {bad[0]!r}; choose from {', '.join(SUITES)}")
    from ..data.photos import TEST_SPLIT

    size = 128 if quick else 256
    if data is not None:
        data = Path(data).expanduser()
        names = _folder_names(data)
        gray = rgb = names[:2] if quick else names
    elif quick:
        # camera and coins carry the most texture of the split; chelsea is its one colour photograph
        gray, rgb = ("camera", "coins"), ("chelsea", "coins")
    else:
        gray = rgb = TEST_SPLIT
    tasks: list[Task] = []
    if "restoration" in suites:
        tasks += restoration_tasks(quick=quick, gray=gray, rgb=rgb)
    if "robustness" in suites:
        tasks += robustness_tasks(quick=quick, gray=gray[:1] if quick else gray)
    tasks += custom_tasks(custom, gray=gray, rgb=rgb)
    plan = BenchPlan(tasks=tasks, size=size, generation="generation" in suites, quick=quick, data=data,
                     n_samples=1000 if quick else 2500, time_cap_s=20.0 if quick else None)
    return plan


def _center_crop(img: torch.Tensor, size: int | None) -> torch.Tensor:
    if size is None:
        return img
    h, w = img.shape[-2:]
    s = min(size, h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return img[..., top:top + s, left:left + s].contiguous()


def _read_folder_image(path: Path, channels: int) -> torch.Tensor:
    import imageio.v3 as iio

    from ..errors import ImageReadError
    from ..tensors import as_image_batch

    try:
        arr = np.asarray(iio.imread(path))
    except Exception as exc:  # noqa: BLE001 - imageio raises many types for bad files
        raise ImageReadError(f"cannot read image {path}: {exc}") from exc
    t = as_image_batch(arr, name=str(path))
    if channels == 1 and t.shape[1] == 3:
        t = (0.2125 * t[:, :1] + 0.7154 * t[:, 1:2] + 0.0721 * t[:, 2:3]).clamp(0, 1)  # skimage's rgb2gray
    elif channels == 3 and t.shape[1] == 1:
        t = t.expand(-1, 3, -1, -1).contiguous()
    return t


def load_images(names: Iterable[str], *, channels: int, size: int | None,
                data: Path | None = None) -> dict[str, torch.Tensor]:
    """Clean ``1×C×H×W`` images by name: the bundled test split, or files under ``data``."""
    from ..data.photos import load_photo

    out = {}
    for name in names:
        img = _read_folder_image(data / name, channels) if data is not None else load_photo(name, channels=channels)
        out[name] = _center_crop(img, size)
    return out


def restorer_params(truth: Mapping[str, Any], wanted: Iterable[str]) -> dict[str, Any]:
    """The TRUE degradation parameters a restorer asks for (classical methods get every advantage):
    those of ``wanted`` that the degradation's ``truth`` (:attr:`pixelsmith.Degraded.truth`, in the
    restorers' vocabulary: ``sigma`` is the noise σ, never a blur's width) holds.
    """
    return {k: truth[k] for k in wanted if k in truth and truth[k] is not None}
