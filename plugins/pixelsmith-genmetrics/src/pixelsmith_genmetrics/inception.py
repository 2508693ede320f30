"""``fid``: Inception FID through torchmetrics/torch-fidelity, only when both and the weights are here.

pixelsmith never downloads: when the package or the weights file is missing, building ``fid``
raises :class:`pixelsmith.errors.WeightsError` (a ``PixelsmithError``) saying where the weights were
looked for, instead of letting torchmetrics fetch them. ``fd`` is the offline alternative.

The weights file is a pickle (``.pth``) chosen by the user (``PIXELSMITH_INCEPTION_WEIGHTS``), and
torch-fidelity reads it with a plain ``torch.load``, which before torch 2.6 runs any code a pickle
holds. So the file is first read with ``weights_only=True`` (the restricted unpickler: tensors and
plain containers, nothing callable), and torch-fidelity's own load runs with ``weights_only=True``
forced: a file that would run code is refused as a ``WeightsError``, on every torch version.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from pathlib import Path
from typing import Any, Iterator

import torch

from pixelsmith.plugin import InvalidInputError, Metric, PixelsmithError, WeightsError, default_device

__all__ = ["InceptionFID", "inception_weights_path", "build_fid", "INCEPTION_FILENAME", "check_plain_weights"]

#: The file torch-fidelity (and so torchmetrics) uses for FID's Inception-v3.
INCEPTION_FILENAME = "weights-inception-2015-12-05-6726825d.pth"


def inception_weights_path() -> Path:
    """``$PIXELSMITH_INCEPTION_WEIGHTS``, else torch hub's checkpoint folder (where torch-fidelity caches it)."""
    env = os.environ.get("PIXELSMITH_INCEPTION_WEIGHTS")
    if env:
        return Path(env).expanduser()
    return Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILENAME


def check_plain_weights(path: Path) -> None:
    """Refuse (``WeightsError``) a ``.pth`` file that holds anything but tensors and plain containers,
    without running it: ``torch.load(weights_only=True)`` refuses every global it does not allow."""
    try:
        torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - UnpicklingError, RuntimeError, EOFError...: all a refusal
        raise WeightsError(
            f"Inception weights {path} cannot be loaded as plain tensors ({type(exc).__name__}: "
            f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''}); it is damaged or holds code, which "
            f"pixelsmith never runs: use torch-fidelity's {INCEPTION_FILENAME}, or fd") from None


@contextlib.contextmanager
def _loads_weights_only() -> Iterator[None]:
    """While torchmetrics builds torch-fidelity's network, every ``torch.load`` is ``weights_only``."""
    original = torch.load

    def load(*args: Any, **kwargs: Any) -> Any:
        kwargs["weights_only"] = True
        return original(*args, **kwargs)

    torch.load = load
    try:
        yield
    finally:
        torch.load = original


def _missing_packages() -> list[str]:
    return [name for name in ("torchmetrics", "torch_fidelity") if importlib.util.find_spec(name) is None]


class InceptionFID(Metric):
    """FID with Inception-v3 pool features (2048-d): ``fid(generated, real) -> Tensor[1]``."""

    name = "fid"
    higher_is_better = False

    def __init__(self, weights_path: Path, *, device: str | torch.device | None = None) -> None:
        from torchmetrics.image.fid import FrechetInceptionDistance

        self.weights_path = weights_path
        self.device = default_device(device)
        check_plain_weights(weights_path)
        try:
            with _loads_weights_only():
                self._fid = FrechetInceptionDistance(feature=2048, normalize=True,
                                                     feature_extractor_weights_path=str(weights_path))
        except TypeError as exc:  # older torchmetrics cannot take a local weights file
            raise PixelsmithError(
                f"the installed torchmetrics cannot load Inception weights from {weights_path} ({exc}); "
                "upgrade torchmetrics or use fd"
            ) from exc
        self._fid = self._fid.to(self.device)

    @property
    def settings(self) -> dict[str, Any]:
        return {"feature_extractor": "inception-v3 (torch-fidelity FID weights)", "weights": str(self.weights_path),
                "features": 2048, "input": "RGB resized to 299×299 by torchmetrics; gray repeated to 3 channels"}

    def _check_pair(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        if pred.shape[0] < 2 or target.shape[0] < 2:
            raise InvalidInputError(f"fid needs at least 2 images per set, got {pred.shape[0]} and {target.shape[0]}")

    @torch.inference_mode()
    def _compute(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        self._fid.reset()
        for x, real in ((target, True), (pred, False)):
            for start in range(0, len(x), 200):
                xb = x[start:start + 200].to(self.device)
                self._fid.update(xb.expand(-1, 3, -1, -1) if xb.shape[1] == 1 else xb, real=real)
        return self._fid.compute().reshape(1).float().cpu()


def build_fid(**options: Any) -> InceptionFID:
    """Factory of ``fid``: checks packages and weights first; never triggers a download."""
    path = inception_weights_path()
    missing = _missing_packages()
    if missing:
        raise WeightsError(
            f"fid needs {' and '.join(missing)} installed (pip install 'torchmetrics[image]') and "
            f"Inception weights at {path}; pixelsmith never downloads; use fd"
        )
    if not path.is_file():
        raise WeightsError(
            f"Inception weights not found at {path}; pixelsmith never downloads; copy {INCEPTION_FILENAME} "
            "there (or set PIXELSMITH_INCEPTION_WEIGHTS), or use fd"
        )
    return InceptionFID(path, **options)
