"""Loading and saving weights as safetensors, checked against their sha256; atomic writes.

Nothing here uses pickle: safetensors files hold only tensors and string metadata.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Mapping

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from .errors import WeightsError
from .specs import WeightsFile

__all__ = ["sha256_of", "load_weights", "save_weights", "load_into", "atomic_write_bytes", "read_metadata"]


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


def save_weights(path: str | Path, tensors: Mapping[str, torch.Tensor],
                 metadata: Mapping[str, Any] | None = None) -> str:
    """Save tensors atomically as safetensors; metadata values are JSON-encoded. Returns the sha256."""
    meta = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in (metadata or {}).items()}
    data = save({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, metadata=meta)
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
