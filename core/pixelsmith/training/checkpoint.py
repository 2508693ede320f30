"""Training checkpoints as safetensors: models, EMA, optimisers, step and RNG states, written atomically.

safetensors holds only tensors and string metadata, so optimiser state is flattened to
``optim.<name>.state.<param index>.<key>`` tensors and its param groups go into the metadata as JSON.
No pickle anywhere: a checkpoint from a stranger can be loaded safely.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch

from ..errors import WeightsError
from ..weights import load_into, load_weights, read_metadata, save_weights

__all__ = ["Checkpoint", "save_checkpoint", "load_checkpoint", "latest_checkpoint", "CHECKPOINT_GLOB"]

CHECKPOINT_GLOB = "checkpoint-*.safetensors"
_STEP_RE = re.compile(r"checkpoint-(\d+)\.safetensors$")


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
        return int(self.metadata.get("step", "0"))

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
        return json.loads(self.metadata[key]) if key in self.metadata else default


def save_checkpoint(path: str | Path, *, step: int, modules: Mapping[str, torch.nn.Module],
                    optimizers: Mapping[str, torch.optim.Optimizer] | None = None,
                    rng: Mapping[str, torch.Tensor] | None = None,
                    metadata: Mapping[str, Any] | None = None) -> str:
    """Write a checkpoint atomically (temp file + rename). Returns its sha256.

    ``modules`` are saved as ``<name>.<param>``; ``rng`` tensors (e.g. ``torch.get_rng_state()``,
    a ``torch.Generator``'s ``get_state()``) as ``rng.<name>``.
    """
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
    return save_weights(path, tensors, meta)


def load_checkpoint(path: str | Path, *, device: str | torch.device = "cpu") -> Checkpoint:
    """Read a checkpoint; a truncated or foreign file raises :class:`WeightsError` naming it."""
    path = Path(path)
    tensors = load_weights(path, device=device)
    metadata = read_metadata(path)
    if metadata.get("format") != "pixelsmith-checkpoint-1":
        raise WeightsError(f"{path} is a safetensors file but not a pixelsmith training checkpoint")
    return Checkpoint(path, tensors, metadata)


def latest_checkpoint(folder: str | Path) -> Path | None:
    """The checkpoint with the highest step in ``folder`` (temp files of interrupted writes are ignored)."""
    best: tuple[int, Path] | None = None
    for p in Path(folder).glob(CHECKPOINT_GLOB):
        m = _STEP_RE.search(p.name)
        if m and (best is None or int(m.group(1)) > best[0]):
            best = (int(m.group(1)), p)
    return None if best is None else best[1]
