"""A component's name and higher_is_better come from its spec, whichever way it is built."""

from __future__ import annotations

import torch

import pixelsmith
from pixelsmith.testing import check_metric, registered


class AnonymousMAE(pixelsmith.Metric):
    """Declares neither name nor direction: the spec says both."""

    @property
    def settings(self):
        return {"reduction": "mean absolute difference per image"}

    def _compute(self, pred, target):
        return (pred - target).abs().flatten(1).mean(1)


ANON_SPEC = pixelsmith.MetricSpec(name="anon-mae", factory=AnonymousMAE, summary="MAE", higher_is_better=False)


class AnonPlugin:
    @pixelsmith.hookimpl
    def pixelsmith_register_metrics(self):
        return [ANON_SPEC]


class WithClassSpec(AnonymousMAE):
    spec = ANON_SPEC


def test_built_by_name_the_metric_reports_its_spec_facts():
    with registered(AnonPlugin()):
        m = pixelsmith.metric("anon-mae")
        assert m.name == "anon-mae" and m.higher_is_better is False
        result = m.evaluate(torch.zeros(2, 1, 4, 4), torch.full((2, 1, 4, 4), 0.5))
        assert result.name == "anon-mae" and result.settings["metric"] == "anon-mae"
        assert result.higher_is_better is False and result.values.tolist() == [0.5, 0.5]
        check_metric("anon-mae", size=(16, 16))


def test_built_directly_from_a_class_with_its_spec():
    m = WithClassSpec()
    assert m.name == "anon-mae" and m.higher_is_better is False
    assert m.evaluate(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 4)).name == "anon-mae"


def test_without_a_spec_the_class_declares_or_its_name_serves():
    assert AnonymousMAE().name == "AnonymousMAE" and AnonymousMAE().higher_is_better is True
    from pixelsmith.metrics import MSE, PSNR

    assert MSE.name == "mse" and MSE().name == "mse" and MSE().higher_is_better is False  # built-ins declare theirs
    assert PSNR().higher_is_better is True


def test_the_spec_wins_over_a_class_declaration():
    from pixelsmith.metrics import MSE

    m = MSE()
    m.spec = pixelsmith.MetricSpec(name="mse-y", factory=MSE, summary="MSE on luma", higher_is_better=False)
    assert m.name == "mse-y" and MSE().name == "mse"


def test_degradations_take_their_name_from_the_spec_too():
    class Brighten(pixelsmith.Degradation):
        params = {"offset": 0.1}

        def _apply(self, x, rng):
            return (x + 0.1).clamp(0, 1), {}

    spec = pixelsmith.DegradationSpec(name="brighten", factory=Brighten, summary="+0.1", task="generic")

    class Plugin:
        @pixelsmith.hookimpl
        def pixelsmith_register_degradations(self):
            return [spec]

    with registered(Plugin()):
        d = pixelsmith.degradation("brighten")
        assert d.name == "brighten" and d.apply(torch.zeros(1, 1, 2, 2)).info["degradation"] == "brighten"
    assert Brighten().name == "Brighten"
    assert pixelsmith.degradation("gaussian-noise").name == "gaussian-noise"


def test_a_class_carrying_a_contradicting_spec_is_refused_when_defined():
    import pytest

    with pytest.raises(pixelsmith.PluginError, match="declares higher_is_better = True but its spec 'anon-mae'"):
        class Contradicts(AnonymousMAE):  # noqa: F841
            higher_is_better = True
            spec = ANON_SPEC
    with pytest.raises(pixelsmith.PluginError, match="must be a pixelsmith.MetricSpec"):
        class WrongKind(AnonymousMAE):  # noqa: F841
            spec = pixelsmith.DegradationSpec(name="d", factory=AnonymousMAE, summary="d", task="generic")
