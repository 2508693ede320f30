"""The ``key=value`` options a trainer takes, declared so they can be checked before any work.

``pixelsmith train NAME key=value...`` hands plugin-specific options to the trainer in
``TrainConfig.extra``. A trainer declares what it reads with :func:`declare_options` (an attribute
on its ``train`` callable); the CLI and :func:`check_options` then refuse, before a run folder is
made or any data is read, an option the trainer does not take (naming the ones it does, with near
matches) and a value of the wrong kind or out of range (naming the option, the value and what is
expected). A trainer that declares nothing is not checked up front; it checks its own options.

>>> def train(config): ...
>>> train = declare_options(train, {"patch": Option("int", "patch side in pixels", low=8, high=1024)})
>>> check_options("toy", trainer_options(train), {"patch": "64"})
{'patch': 64}
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from ..errors import InvalidInputError

__all__ = ["Option", "declare_options", "trainer_options", "check_options", "RESTORATION_OPTIONS",
           "gan_options"]

_KINDS = ("int", "float", "str", "bool", "ints", "floats")
_EXPECTED = {"int": "a whole number", "float": "a number", "str": "a word", "bool": "true or false",
             "ints": "whole numbers", "floats": "numbers"}
_EXAMPLE = {"ints": " (a list: 32,64,128)", "floats": " (a list: 0.3,0.7)"}


@dataclass(frozen=True)
class Option:
    """One trainer option: its ``kind`` (``"int"``, ``"float"``, ``"str"``, ``"bool"``, ``"ints"`` or
    ``"floats"``: a list given as ``32,64`` or ``[32, 64]``), a one-line ``help``, a closed range
    ``[low, high]`` for numbers (each item of a list) and the allowed ``choices`` of a word.

    A name ending in ``.*`` (``leaves.*``) declares a family of options sharing a prefix.
    """

    kind: str
    help: str = ""
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] | None = None

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"Option kind must be one of {_KINDS}, got {self.kind!r}")

    def expected(self) -> str:
        if self.choices is not None:
            return "one of " + ", ".join(map(str, self.choices))
        text = _EXPECTED[self.kind]
        if self.low is not None or self.high is not None:
            lo = "-inf" if self.low is None else f"{self.low:g}"
            hi = "inf" if self.high is None else f"{self.high:g}"
            text += f" in [{lo}, {hi}]"
        return text + _EXAMPLE.get(self.kind, "")

    def parse(self, value: Any) -> Any:
        """``value`` (as the CLI parsed it, or as given in Python) converted; ValueError if it is not one."""
        if self.kind in ("ints", "floats"):
            items = value if isinstance(value, (list, tuple)) else str(value).replace(",", " ").split()
            if not items:
                raise ValueError("empty")
            out = [self._number(v, "int" if self.kind == "ints" else "float") for v in items]
        elif self.kind in ("int", "float"):
            out = self._number(value, self.kind)
        elif self.kind == "bool":
            if isinstance(value, bool):
                out = value
            elif str(value).strip().lower() in ("1", "true", "yes", "on"):
                out = True
            elif str(value).strip().lower() in ("0", "false", "no", "off"):
                out = False
            else:
                raise ValueError("not a bool")
        else:
            out = str(value)
        if self.choices is not None and out not in self.choices:
            raise ValueError("not a choice")
        return out

    def _number(self, value: Any, kind: str) -> float:
        if isinstance(value, bool):
            raise ValueError("a bool")
        if kind == "int":
            if isinstance(value, float):
                if not value.is_integer():
                    raise ValueError("not a whole number")
                value = int(value)
            number: float = int(value)  # a string "2.5" or "abc" raises ValueError
        else:
            number = float(value)
            if not math.isfinite(number):
                raise ValueError("not finite")
        if (self.low is not None and number < self.low) or (self.high is not None and number > self.high):
            raise ValueError("out of range")
        return number


def declare_options(train: Callable[..., Any], options: Mapping[str, Option]) -> Callable[..., Any]:
    """Attach the options ``train`` reads from ``TrainConfig.extra``; returns ``train``."""
    train.options = dict(options)  # type: ignore[attr-defined]
    return train


def trainer_options(train: Any) -> Mapping[str, Option] | None:
    """The options a trainer declared, or None when it declared none (then nothing is checked up front)."""
    options = getattr(train, "options", None)
    return options if isinstance(options, Mapping) else None


def _lookup(options: Mapping[str, Option], key: str) -> Option | None:
    if key in options:
        return options[key]
    for name, option in options.items():
        if name.endswith(".*") and key.startswith(name[:-1]) and len(key) > len(name) - 1:
            return option
    return None


def check_options(component: str, options: Mapping[str, Option] | None, extra: Mapping[str, Any]) -> dict[str, Any]:
    """``extra`` checked against ``options`` and converted; raises :class:`InvalidInputError` naming the
    option and what the trainer takes (near matches first). ``options`` None: returned unchecked."""
    if options is None:
        return dict(extra)
    from ..components import check_parameter_names

    unknown = [k for k in extra if _lookup(options, k) is None]
    if unknown:
        check_parameter_names(unknown, options, what=f"the trainer of {component!r}")
    out: dict[str, Any] = {}
    for key, value in extra.items():
        option = _lookup(options, key)
        assert option is not None
        if value is None:
            out[key] = None
            continue
        try:
            out[key] = option.parse(value)
        except (TypeError, ValueError, OverflowError):
            what = f" ({option.help})" if option.help else ""
            raise InvalidInputError(f"{key}={value!r:.60}: the trainer of {component!r} expects "
                                    f"{option.expected()}{what}") from None
    leaves = {k.split(".", 1)[1]: v for k, v in out.items() if k.startswith("leaves.")}
    if leaves and "leaves.*" in options:
        from ..data.dead_leaves import parse_dead_leaves_options

        parse_dead_leaves_options(leaves)  # unknown keys and bad values: InvalidInputError, up front
    return out


#: What every trainer built on :func:`pixelsmith.training.restoration.train_restorer` reads.
RESTORATION_OPTIONS: dict[str, Option] = {
    "patch": Option("int", "training patch side in pixels", low=8, high=4096),
    "known_prob": Option("float", "chance the network is told the degradation's level or kernel", low=0, high=1),
    "unclipped": Option("float", "chance that denoising noise is left unclipped", low=0, high=1),
    "loss": Option("str", "training loss", choices=("l1", "l2")),
    "schedule_steps": Option("int", "the cosine schedule's horizon in steps", low=1),
    "schedule_start": Option("int", "the step the learning-rate schedule restarts at", low=0),
    "init": Option("str", "a restorer weights file to start from"),
    "holdout": Option("str", "bundled photographs left out of training, comma-separated"),
    "sample_by": Option("str", "how photo patches are drawn", choices=("image", "area")),
    "scale_aug": Option("float", "chance of a rescaled photo patch", low=0, high=1),
    "scale_min": Option("float", "smallest rescaling factor", low=0.01, high=1),
    "mix": Option("floats", "weights of the --data sources, one each", low=0),
    "leaves.*": Option("str", "dead-leaves generator options, e.g. leaves.rmin=2 (with --data dead-leaves)"),
    "leaves_on": Option("str", "where dead leaves are drawn: cpu, or device (the training device, e.g. a GPU)",
                        choices=("cpu", "device")),
}


def gan_options(model_defaults: Mapping[str, int]) -> dict[str, Option]:
    """The options of the shared GAN trainer with a plugin's integer architecture options."""
    from .gan import GAN_DEFAULTS

    options: dict[str, Option] = {}
    for key, default in {**GAN_DEFAULTS, **model_defaults}.items():
        if key == "self_condition":
            options[key] = Option("int", "clusters the images are split into for self-conditioning "
                                  "(Liu et al. 2020; for a class-conditional model, clusters per class); 0: off",
                                  low=0, high=4096)
        elif isinstance(default, bool):
            options[key] = Option("bool")
        elif isinstance(default, int):
            options[key] = Option("int", low=0 if key in ("log_every",) else 1, high=1 << 20)
        elif isinstance(default, float):
            options[key] = Option("float", low=0)
        else:
            options[key] = Option("str")
    return options
