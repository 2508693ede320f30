"""Loading and saving weights as safetensors, checked against their sha256; atomic writes.

Nothing here uses pickle: safetensors files hold only tensors and string metadata.

A weights file from a user also describes the model to build (``model_config`` metadata), and a
few changed digits there can ask for terabytes. Before a model is built from metadata:

- :func:`validate_metadata` checks the fields a loader needs against a schema of :class:`Field`
  (JSON type, range, list items, nested fields);
- :func:`build_checked` builds the model first on PyTorch's ``meta`` device (shapes, no memory),
  compares its parameter count with a budget and its tensors with those the file holds, and only
  then builds it for real.

Every failure is a :class:`~pixelsmith.errors.WeightsError` naming the file and the field.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from .errors import WeightsError, is_out_of_memory
from .specs import WeightsFile

__all__ = ["sha256_of", "load_weights", "save_weights", "encode_weights", "load_into", "atomic_write_bytes", "read_metadata",
           "Field", "validate_metadata", "check_weights_file", "build_checked", "DEFAULT_MAX_PARAMETERS",
           "packaged_weights"]

#: The most parameters and buffers (elements) a model built from a file's metadata may have unless
#: the loader says otherwise: 2 billion, 8 GB as float32, far beyond any model pixelsmith ships.
DEFAULT_MAX_PARAMETERS = 2_000_000_000


def packaged_weights(package: str, filename: str, sha256: str) -> WeightsFile:
    """The :class:`~pixelsmith.WeightsFile` of ``weights/<filename>`` shipped inside the installed
    ``package`` (an importable name, e.g. ``"pixelsmith_deblur"``), checked against ``sha256`` on load."""
    from importlib import resources

    return WeightsFile(Path(str(resources.files(package).joinpath("weights", filename))), sha256)


def sha256_of(path: str | Path) -> str:
    """The hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename, so a kill never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes the file private (0600); give it the mode a plain open() would have
        os.fchmod(fd, _new_file_mode(path))
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _new_file_mode(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o777  # replacing a file keeps its mode
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def encode_weights(tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, Any] | None = None) -> bytes:
    """The bytes of a safetensors file holding ``tensors``; metadata values are JSON-encoded."""
    meta = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in (metadata or {}).items()}
    return save({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, metadata=meta)


def save_weights(path: str | Path, tensors: Mapping[str, torch.Tensor],
                 metadata: Mapping[str, Any] | None = None) -> str:
    """Save tensors atomically as safetensors; metadata values are JSON-encoded. Returns the sha256."""
    data = encode_weights(tensors, metadata)
    atomic_write_bytes(path, data)
    return hashlib.sha256(data).hexdigest()


def load_weights(source: WeightsFile | str | Path, *, sha256: str | None = None,
                 device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """Load a safetensors file, checking its sha256 when one is known."""
    if isinstance(source, WeightsFile):
        path, sha256 = source.path, sha256 or source.sha256
    else:
        path = Path(source)
    if not path.is_file():
        raise WeightsError(f"weights file {path} does not exist; reinstall the plugin or train it first")
    if sha256 is not None:
        actual = sha256_of(path)
        if actual != sha256:
            raise WeightsError(
                f"weights file {path} has sha256 {actual}, expected {sha256}: the file is corrupt "
                "or was replaced; reinstall the plugin"
            )
    try:
        return load_file(str(path), device=str(device))
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(f"weights file {path} cannot be read as safetensors ({exc}){_damage(path)}") from exc


def _damage(path: Path) -> str:
    """What is wrong with an unreadable safetensors file, as far as its header tells (for error messages)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                return f": the file is {size} bytes, too short for a safetensors header; it is truncated or empty"
            n = int.from_bytes(head, "little")
            if n > size - 8:
                return (f": the header says {n} bytes of metadata follow but the file holds {size - 8}; "
                        "it is truncated or not a safetensors file")
            header = json.loads(fh.read(n))
        end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
        expected = 8 + n + end
        if size < expected:
            return f": the file is {size} bytes, its header describes {expected} bytes; it is truncated"
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        return "; it is damaged or not a safetensors file"
    return "; it may be damaged"


def read_metadata(path: str | Path) -> dict[str, str]:
    """The string metadata stored in a safetensors header."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            return dict(fh.metadata() or {})
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(f"{path} cannot be read as safetensors ({exc}); it may be truncated") from exc


def load_into(module: torch.nn.Module, state: Mapping[str, torch.Tensor], *, source: str = "weights") -> None:
    """Load a state dict into a module, with an error that lists missing, unexpected and mis-shaped keys."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = [f"{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
             for k in own if k in state and state[k].shape != own[k].shape]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {missing[:5]}{'...' if len(missing) > 5 else ''}")
        if unexpected:
            parts.append(f"unexpected {unexpected[:5]}{'...' if len(unexpected) > 5 else ''}")
        if wrong:
            parts.append(f"wrong shapes {wrong[:5]}")
        raise WeightsError(f"{source} does not match {type(module).__name__}: " + "; ".join(parts))
    module.load_state_dict(state, strict=True)


# -- metadata schema and model budget -------------------------------------------------------------------

_JSON_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false", list: "a list",
               dict: "an object"}


@dataclass(frozen=True)
class Field:
    """What one metadata field must hold: ``kind`` (``int``, ``float``, ``str``, ``bool``, ``list`` or
    ``dict``), whether it is ``required``, a closed range ``[low, high]`` for numbers (and for the
    items of a list of numbers, and a list's length with ``length``), the allowed ``choices``, the
    ``items`` kind of a list, and the nested ``fields`` of an object.

    >>> Field(int, low=1, high=4096)          # e.g. a width
    Field(kind=<class 'int'>, required=True, low=1, high=4096, items=None, choices=None, fields=None, length=None)
    """

    kind: type
    required: bool = True
    low: float | None = None
    high: float | None = None
    items: type | None = None
    choices: tuple[Any, ...] | None = None
    fields: Mapping[str, "Field"] | None = None
    length: tuple[int, int] | None = None


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _kind_ok(value: Any, kind: type) -> bool:
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def _check_value(path: Path, name: str, value: Any, field: Field) -> Any:
    def bad(problem: str) -> WeightsError:
        return WeightsError(f"weights file {path}: metadata field {name!r} {problem}; the file was not "
                            "written by pixelsmith, or was edited: use the file its trainer wrote")

    if not _kind_ok(value, field.kind):
        raise bad(f"must be {_JSON_NAMES.get(field.kind, field.kind.__name__)}, got {value!r:.80}")
    if field.choices is not None and value not in field.choices:
        raise bad(f"must be one of {list(field.choices)}, got {value!r:.80}")
    numbers = [value] if field.kind in (int, float) else []
    if field.kind is list:
        if field.length is not None and not field.length[0] <= len(value) <= field.length[1]:
            raise bad(f"must have {field.length[0]} to {field.length[1]} items, got {len(value)}")
        if field.items is not None:
            wrong = [v for v in value if not _kind_ok(v, field.items)]
            if wrong:
                raise bad(f"must hold only {_JSON_NAMES.get(field.items, field.items.__name__)} items, "
                          f"got {wrong[0]!r:.40}")
            if field.items in (int, float):
                numbers = list(value)
    for v in numbers:
        if (field.low is not None and v < field.low) or (field.high is not None and v > field.high):
            lo = "-inf" if field.low is None else _number(field.low)
            hi = "inf" if field.high is None else _number(field.high)
            raise bad(f"must lie in [{lo}, {hi}], got {v!r}")
    if field.kind is dict and field.fields is not None:
        return _check_fields(path, value, field.fields, prefix=name + ".")
    return value


def _check_fields(path: Path, values: Mapping[str, Any], schema: Mapping[str, Field], *, prefix: str) -> dict[str, Any]:
    out = dict(values)
    for key, field in schema.items():
        if key not in values:
            if field.required:
                raise WeightsError(f"weights file {path}: metadata field {prefix + key!r} is missing; the file "
                                   "was not written by pixelsmith's trainer for this component")
            continue
        out[key] = _check_value(path, prefix + key, values[key], field)
    return out


def validate_metadata(path: str | Path, metadata: Mapping[str, str], schema: Mapping[str, Field]) -> dict[str, Any]:
    """The fields of ``schema`` read from safetensors string ``metadata`` (JSON-decoded unless the field
    is a string) and checked; other fields are returned as they are. Raises :class:`WeightsError`
    naming ``path`` and the field (``model_config.widths``) for a missing, unparsable or wrong value.

    >>> validate_metadata("w.safetensors", {"step": "12"}, {"step": Field(int, low=0)})
    {'step': 12}
    """
    path = Path(path)
    parsed: dict[str, Any] = dict(metadata)
    for key, field in schema.items():
        if key in metadata and field.kind is not str:
            try:
                parsed[key] = json.loads(metadata[key])
            except (TypeError, ValueError) as exc:
                raise WeightsError(f"weights file {path}: metadata field {key!r} is not valid JSON ({exc}); "
                                   f"got {metadata[key]!r:.80}") from None
    return _check_fields(path, parsed, schema, prefix="")


def check_weights_file(path: str | Path) -> dict[str, str]:
    """The checks every user-given weights file gets before a plugin reads it: it exists, its
    safetensors header reads, every metadata value that looks like JSON parses and ``step`` (when
    present) is a whole number >= 0. Returns the string metadata; raises :class:`WeightsError`."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file {path} does not exist (or is not a file)")
    metadata = read_metadata(path)
    for key, value in metadata.items():
        if value[:1] in ("{", "["):
            try:
                json.loads(value)
            except ValueError as exc:
                raise WeightsError(f"weights file {path}: metadata field {key!r} is not valid JSON ({exc})") from None
    if "step" in metadata:
        validate_metadata(path, {"step": metadata["step"]}, {"step": Field(int, low=0)})
    return metadata


def _count_elements(module: torch.nn.Module) -> int:
    return sum(t.numel() for t in module.state_dict().values())


def build_checked(build: Callable[[], torch.nn.Module], *, path: str | Path,
                  state: Mapping[str, torch.Tensor] | None = None, max_parameters: int | None = None,
                  field: str = "model_config") -> torch.nn.Module:
    """``build()`` a model that a weights file's metadata describes, after checking that it is sane.

    The model is first built on the ``meta`` device (shapes only, no memory): its parameters and
    buffers may number at most ``max_parameters`` (default :data:`DEFAULT_MAX_PARAMETERS`), and when
    ``state`` (the tensors the file holds, keyed as the model's ``state_dict``) is given, names and
    shapes must match it exactly, so that a model is never bigger than the file that fills it. Then
    it is built for real. A builder that cannot run on ``meta`` is built directly (only the
    budget's protection is lost; tests should keep builders meta-safe). Failures are
    :class:`WeightsError` naming ``path`` and ``field``.
    """
    path = Path(path)
    limit = DEFAULT_MAX_PARAMETERS if max_parameters is None else int(max_parameters)
    try:
        with torch.device("meta"):
            shadow = build()
    except WeightsError:
        raise
    except (TypeError, ValueError, KeyError) as exc:
        raise WeightsError(f"weights file {path}: metadata field {field!r} does not describe a model this "
                           f"plugin can build ({type(exc).__name__}: {exc})") from exc
    except Exception as exc:  # noqa: BLE001 - a builder that needs real tensors: build it as before
        if is_out_of_memory(exc):
            raise WeightsError(f"weights file {path}: metadata field {field!r} describes a model too large "
                               f"to build ({exc})") from exc
        shadow = None
    if shadow is not None:
        count = _count_elements(shadow)
        if count > limit:
            raise WeightsError(
                f"weights file {path}: metadata field {field!r} describes a model of {count:,} parameters, "
                f"more than the limit of {limit:,}; the file is damaged or not meant for this plugin")
        if state is not None:
            own = {k: tuple(v.shape) for k, v in shadow.state_dict().items()}
            theirs = {k: tuple(v.shape) for k, v in state.items()}
            if own != theirs:
                missing = sorted(set(own) - set(theirs))
                extra = sorted(set(theirs) - set(own))
                wrong = [f"{k}: file {theirs[k]} vs model {own[k]}" for k in own if k in theirs and own[k] != theirs[k]]
                parts = ([f"missing {missing[:3]}"] if missing else []) + ([f"unexpected {extra[:3]}"] if extra else []) \
                    + ([f"wrong shapes {wrong[:3]}"] if wrong else [])
                raise WeightsError(f"weights file {path}: metadata field {field!r} describes a model that does not "
                                   f"match the file's tensors: {'; '.join(parts)}")
        del shadow
    try:
        return build()
    except WeightsError:
        raise
    except Exception as exc:  # noqa: BLE001
        if is_out_of_memory(exc):
            raise WeightsError(f"weights file {path}: the model its {field!r} describes does not fit in memory "
                               f"({exc})") from exc
        raise WeightsError(f"weights file {path}: metadata field {field!r} does not describe a model this "
                           f"plugin can build ({type(exc).__name__}: {exc})") from exc
