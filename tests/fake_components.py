"""Tiny, honest components for the core tests: a plugin module registered in-process.

They do real work (a box filter, seeded noise, mean absolute error, a fixed linear generator)
so that the CLI, the pipeline and the conformance kit can be tested without depending on the
built-in metrics and degradations or on any plugin of this repository.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

import pixelsmith
from pixelsmith import hookimpl


class BoxRestorer(pixelsmith.Restorer):
    """3×3 mean filter with replicate padding: batch independent and defined on 1×1 images."""

    def __init__(self, device=None, passes: int = 1) -> None:
        super().__init__(device)
        self.passes = passes
        self.calls: list[dict[str, Any]] = []

    def _restore(self, x: torch.Tensor, **params: Any) -> torch.Tensor:
        self.calls.append({"batch": x.shape[0], **params})
        for _ in range(self.passes):
            x = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
        return x


class GaussianNoise(pixelsmith.Degradation):
    name = "tiny-noise"

    def __init__(self, sigma: float = 0.1) -> None:
        self.sigma = float(sigma)

    @property
    def params(self) -> dict[str, Any]:
        return {"sigma": self.sigma}

    def _apply(self, x: torch.Tensor, rng: torch.Generator):
        noise = torch.randn(x.shape, generator=rng).to(x.device)
        return x + self.sigma * noise, {"noise_sigma": self.sigma}


class MeanAbsoluteError(pixelsmith.Metric):
    name = "tiny-mae"
    higher_is_better = False

    @property
    def settings(self) -> dict[str, Any]:
        return {"data_range": 1.0, "reduction": "mean over C, H, W per image"}

    def _compute(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (pred - target).abs().flatten(1).mean(1)


class LinearGenerator(pixelsmith.Generator):
    latent_dim = 4
    output_shape = (1, 8, 8)

    def __init__(self, device=None) -> None:
        super().__init__(device)
        weight_rng = torch.Generator().manual_seed(1234)
        self.weight = torch.randn(4, 64, generator=weight_rng).to(self.device)

    def _decode(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        return torch.sigmoid(z @ self.weight).reshape(-1, 1, 8, 8)


BOX_SPEC = pixelsmith.RestorerSpec(name="tiny-box", factory=BoxRestorer, summary="3×3 box filter",
                                   tasks=("denoise",), accepts=("sigma",), version="1.0")
NOISE_SPEC = pixelsmith.DegradationSpec(name="tiny-noise", factory=GaussianNoise,
                                        summary="Gaussian noise", task="denoise", params={"sigma": 0.1})
MAE_SPEC = pixelsmith.MetricSpec(name="tiny-mae", factory=MeanAbsoluteError, summary="Mean absolute error",
                                 higher_is_better=False)
GEN_SPEC = pixelsmith.GeneratorSpec(name="tiny-gen", factory=LinearGenerator, summary="Linear generator",
                                    output_shape=(1, 8, 8))


class FakePlugin:
    """Hook implementations as an object, the way a test registers a plugin without installing it."""

    @hookimpl
    def pixelsmith_register_restorers(self):
        return [BOX_SPEC]

    @hookimpl
    def pixelsmith_register_degradations(self):
        return [NOISE_SPEC]

    @hookimpl
    def pixelsmith_register_metrics(self):
        return [MAE_SPEC]

    @hookimpl
    def pixelsmith_register_generators(self):
        return [GEN_SPEC]
