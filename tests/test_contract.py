"""The component contract where it bites (issue 13, item 4): a degradation's truth in the restorers'
vocabulary, one build path, spec facts checked at construction, the registry's public surface."""

from __future__ import annotations

import pytest
import torch

import pixelsmith
from pixelsmith.components import combine_truth, degradation_truth

X = torch.rand(1, 1, 24, 24, generator=torch.Generator().manual_seed(0))


# -- Degraded.truth: one function, used by the pipeline, the bench and the trainers ----------------------

def test_degraded_keeps_its_own_params_apart_from_the_truth():
    blurred = pixelsmith.degradation("gaussian-blur", sigma=2.0, noise=0.01).apply(X, seed=0)
    assert blurred.params["sigma"] == 2.0 and blurred.params["noise"] == 0.01  # its own vocabulary
    assert blurred.truth["sigma"] == 0.01  # the noise σ, not the blur width
    assert torch.equal(blurred.truth["kernel"], blurred.info["kernel"])
    noisy = pixelsmith.degradation("gaussian-noise", sigma=0.1).apply(X, seed=0)
    assert noisy.truth == {"sigma": 0.1}
    sp = pixelsmith.degradation("salt-and-pepper", amount=0.2).apply(X, seed=0)
    assert sp.truth["amount"] == 0.2 and sp.truth["mask"].shape == (1, 1, 24, 24)
    hidden = pixelsmith.degradation("inpainting-mask").apply(X, seed=0)
    assert set(hidden.truth) == {"mask"}
    assert pixelsmith.degradation("poisson-noise").apply(X, seed=0).truth == {}
    # the report keeps everything together, as before
    assert blurred.info["degradation"] == "gaussian-blur" and blurred.info["noise_sigma"] == 0.01


def test_truth_rules():
    # a denoising degradation that reports nothing: its sigma parameter is the noise σ
    assert degradation_truth("denoise", {"sigma": 0.2}, {}) == {"sigma": 0.2}
    # any other task: a parameter named sigma is never taken for the noise σ
    assert degradation_truth("deblur", {"sigma": 2.0}, {}) == {}
    assert degradation_truth("impulse", {"amount": 0.1}, {}) == {"amount": 0.1}
    # two degradations in a row: independent noises add in quadrature, the later kernel wins
    k1, k2 = torch.ones(3, 3) / 9, torch.ones(5, 5) / 25
    both = combine_truth({"sigma": 0.03, "kernel": k1}, {"sigma": 0.04, "kernel": k2})
    assert both["sigma"] == pytest.approx(0.05) and both["kernel"] is k2


class _Spy(pixelsmith.Restorer):
    seen: list[dict] = []

    def _restore(self, x, **params):
        _Spy.seen.append(params)
        return x


_SPY_SPEC = pixelsmith.RestorerSpec(name="spy-deblur", factory=_Spy, summary="records its parameters",
                                    tasks=("deblur",), accepts=("sigma", "kernel"))


def test_the_pipeline_gives_the_restorer_the_truth():
    spy = _Spy(device="cpu")
    spy.spec = _SPY_SPEC
    _Spy.seen.clear()
    pipe = pixelsmith.Pipeline(["gaussian-noise", "gaussian-blur"], restorer=spy, pass_true_params=True,
                               device="cpu")
    pipe.degradations[0] = pixelsmith.degradation("gaussian-noise", sigma=0.05)
    pipe.degradations[1] = pixelsmith.degradation("gaussian-blur", sigma=3.0)  # no noise of its own
    [record] = list(pipe.run(X))
    [params] = _Spy.seen
    assert params["sigma"] == pytest.approx(0.05)  # not the blur's width (3.0), not its noise (0)
    assert params["kernel"].shape == record.truth["kernel"].shape
    assert record.truth["sigma"] == pytest.approx(0.05)
