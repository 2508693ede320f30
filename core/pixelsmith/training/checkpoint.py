"""Training checkpoints as safetensors: models, EMA, optimisers, step and RNG states, written atomically.

safetensors holds only tensors and string metadata, so optimiser state is flattened to
``optim.<name>.state.<param index>.<key>`` tensors and its param groups go into the metadata as JSON.
No pickle anywhere: a checkpoint from a stranger can be loaded safely.

Every checkpoint's sha256 goes into a manifest beside it, ``checkpoints.sha256`` (the format of
``sha256sum``, so ``sha256sum -c checkpoints.sha256`` checks a run folder by hand). The manifest
is rewritten atomically *before* the checkpoint is renamed into place, so a complete checkpoint
always has its entry; an entry whose file never arrived (a kill in between) is ignored.
:func:`verify_checkpoint` compares a file with its entry. Run folders written before manifests
existed have none, and their checkpoints load as before, unverified.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Mapping

import torch

from ..errors import WeightsError
from ..weights import atomic_write_bytes, encode_weights, load_into, load_weights, read_metadata, sha256_of

__all__ = ["Checkpoint", "save_checkpoint", "load_checkpoint", "latest_checkpoint", "checkpoints_newest_first",
           "read_manifest", "prune_manifest", "verify_checkpoint", "CHECKPOINT_GLOB", "MANIFEST_NAME"]

CHECKPOINT_GLOB = "checkpoint-*.safetensors"
MANIFEST_NAME = "checkpoints.sha256"
_STEP_RE = re.compile(r"checkpoint-(\d+)\.safetensors$")
_MANIFEST_LINE = re.compile(r"^([0-9a-f]{64}) [ *](\S.*)$")


def _flatten_optimizer(name: str, opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], str]:
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    for idx, state in sd["state"].items():
        for key, value in state.items():
            t = value if isinstance(value, torch.Tensor) else torch.tensor(value)
            tensors[f"optim.{name}.state.{idx}.{key}"] = t
    return tensors, json.dumps(sd["param_groups"])


def _unflatten_optimizer(name: str, tensors: Mapping[str, torch.Tensor], groups_json: str) -> dict[str, Any]:
    prefix = f"optim.{name}.state."
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith(prefix):
            idx, sub = key[len(prefix):].split(".", 1)
            state.setdefault(int(idx), {})[sub] = value
    return {"state": state, "param_groups": json.loads(groups_json)}


@dataclass
class Checkpoint:
    """A loaded checkpoint: its tensors, metadata and the step it was written at."""

    path: Path
    tensors: dict[str, torch.Tensor]
    metadata: dict[str, str]

    @property
    def step(self) -> int:
        return _step_of(self.path, self.metadata)

    def state_dict(self, prefix: str) -> dict[str, torch.Tensor]:
        p = prefix + "."
        return {k[len(p):]: v for k, v in self.tensors.items() if k.startswith(p)}

    def load_module(self, prefix: str, module: torch.nn.Module) -> None:
        state = self.state_dict(prefix)
        if not state:
            raise WeightsError(f"checkpoint {self.path} has no tensors for {prefix!r}; "
                               f"it holds {sorted({k.split('.')[0] + '.' + k.split('.')[1] for k in self.tensors})}")
        load_into(module, state, source=f"checkpoint {self.path} [{prefix}]")

    def load_optimizer(self, name: str, opt: torch.optim.Optimizer) -> None:
        groups = self.metadata.get(f"optim.{name}.param_groups")
        if groups is None:
            raise WeightsError(f"checkpoint {self.path} has no optimiser {name!r}")
        try:
            opt.load_state_dict(_unflatten_optimizer(name, self.tensors, groups))
        except (ValueError, KeyError, RuntimeError) as exc:
            raise WeightsError(f"checkpoint {self.path}: optimiser {name!r} does not match: {exc}") from exc

    def json(self, key: str, default: Any = None) -> Any:
        if key not in self.metadata:
            return default
        try:
            return json.loads(self.metadata[key])
        except ValueError as exc:
            raise WeightsError(f"checkpoint {self.path}: metadata field {key!r} is not valid JSON ({exc}); "
                               "the file is damaged, resume from an older checkpoint") from None


def _step_of(path: Path, metadata: Mapping[str, str]) -> int:
    text = metadata.get("step", "0")
    if not (isinstance(text, str) and text.isascii() and text.isdigit()):
        raise WeightsError(f"checkpoint {path}: metadata field 'step' must be a whole number >= 0, got {text!r:.40}; "
                           "the file is damaged or was not written by pixelsmith")
    return int(text)


def save_checkpoint(path: str | Path, *, step: int, modules: Mapping[str, torch.nn.Module],
                    optimizers: Mapping[str, torch.optim.Optimizer] | None = None,
                    rng: Mapping[str, torch.Tensor] | None = None,
                    metadata: Mapping[str, Any] | None = None, manifest: bool = True) -> str:
    """Write a checkpoint atomically (temp file + rename) and record its sha256 in the folder's
    manifest (``manifest=False`` skips that). Returns its sha256.

    ``modules`` are saved as ``<name>.<param>``; ``rng`` tensors (e.g. ``torch.get_rng_state()``,
    a ``torch.Generator``'s ``get_state()``) as ``rng.<name>``.
    """
    path = Path(path)
    tensors: dict[str, torch.Tensor] = {}
    meta: dict[str, Any] = {"step": str(step), "format": "pixelsmith-checkpoint-1"}
    for name, module in modules.items():
        for key, value in module.state_dict().items():
            tensors[f"{name}.{key}"] = value
    for name, opt in (optimizers or {}).items():
        flat, groups = _flatten_optimizer(name, opt)
        tensors.update(flat)
        meta[f"optim.{name}.param_groups"] = groups
    for name, state in (rng or {}).items():
        tensors[f"rng.{name}"] = state
    meta.update(metadata or {})
    data = encode_weights(tensors, meta)
    digest = hashlib.sha256(data).hexdigest()
    if manifest:  # first the manifest entry, then the file: a complete checkpoint always has its entry
        entries = {name: sha for name, sha in (read_manifest(path.parent) or {}).items()
                   if (path.parent / name).exists()}
        entries[path.name] = digest
        _write_manifest(path.parent, entries)
    atomic_write_bytes(path, data)
    return digest


def read_manifest(folder: str | Path) -> dict[str, str] | None:
    """``{file name: sha256}`` from ``folder``'s manifest; None when the folder has none (a run
    folder written before manifests existed). Lines that are not ``<sha256>  <name>`` are ignored."""
    path = Path(folder) / MANIFEST_NAME
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise WeightsError(f"checkpoint manifest {path} cannot be read ({exc.strerror or exc})") from exc
    entries: dict[str, str] = {}
    for line in text.splitlines():
        match = _MANIFEST_LINE.match(line.strip())
        if match:
            entries[match.group(2)] = match.group(1)
    return entries


def _write_manifest(folder: Path, entries: Mapping[str, str]) -> None:
    text = "".join(f"{sha}  {name}\n" for name, sha in sorted(entries.items()))
    atomic_write_bytes(folder / MANIFEST_NAME, text.encode("utf-8"))


def prune_manifest(folder: str | Path) -> None:
    """Drop the entries of checkpoints that no longer exist (after rotation)."""
    folder = Path(folder)
    entries = read_manifest(folder)
    if entries is None:
        return
    kept = {name: sha for name, sha in entries.items() if (folder / name).exists()}
    if kept != entries:
        _write_manifest(folder, kept)


def verify_checkpoint(path: str | Path, manifest: Mapping[str, str] | None = None
                      ) -> Literal["verified", "unlisted", "no manifest"]:
    """Compare a checkpoint with its manifest entry; raise :class:`WeightsError` when they differ.

    Returns ``"verified"``, ``"unlisted"`` (the folder has a manifest without this file: copied in
    by hand) or ``"no manifest"`` (a run folder from before manifests). ``manifest`` defaults to
    the one beside ``path``."""
    path = Path(path)
    entries = read_manifest(path.parent) if manifest is None else manifest
    if entries is None:
        return "no manifest"
    expected = entries.get(path.name)
    if expected is None:
        return "unlisted"
    actual = sha256_of(path)
    if actual != expected:
        raise WeightsError(f"checkpoint {path} is corrupt: its sha256 is {actual[:16]}…, the manifest "
                           f"{MANIFEST_NAME} recorded {expected[:16]}… when it was written")
    return "verified"


def load_checkpoint(path: str | Path, *, device: str | torch.device = "cpu") -> Checkpoint:
    """Read a checkpoint; a truncated or foreign file, or bad metadata, raises :class:`WeightsError`
    naming it. (Its sha256 is checked by :func:`verify_checkpoint`, which ``--resume`` calls.)"""
    path = Path(path)
    tensors = load_weights(path, device=device)
    metadata = read_metadata(path)
    if metadata.get("format") != "pixelsmith-checkpoint-1":
        raise WeightsError(f"{path} is a safetensors file but not a pixelsmith training checkpoint")
    step = _step_of(path, metadata)
    named = _STEP_RE.search(path.name)
    if named and int(named.group(1)) != step:
        raise WeightsError(f"checkpoint {path}: metadata field 'step' says {step}, its name says "
                           f"{int(named.group(1))}; the file was renamed or damaged")
    return Checkpoint(path, tensors, metadata)


def checkpoints_newest_first(folder: str | Path) -> list[Path]:
    """The checkpoints in ``folder``, highest step first (temp files of interrupted writes are ignored)."""
    found = []
    for p in Path(folder).glob(CHECKPOINT_GLOB):
        m = _STEP_RE.search(p.name)
        if m:
            found.append((int(m.group(1)), p))
    return [p for _, p in sorted(found, reverse=True)]


def latest_checkpoint(folder: str | Path) -> Path | None:
    """The checkpoint with the highest step in ``folder`` (temp files of interrupted writes are ignored)."""
    found = checkpoints_newest_first(folder)
    return found[0] if found else None
