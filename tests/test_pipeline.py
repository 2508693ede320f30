"""Pipeline: degrade → restore → measure, streaming, reproducible whatever the batch size."""

from __future__ import annotations

import pytest
import torch

import pixelsmith
from pixelsmith.errors import ImageReadError, InvalidInputError
from pixelsmith.io import write_image
from pixelsmith.pipeline import Pipeline, image_seed
from pixelsmith.testing import registered

from fake_components import BoxRestorer, FakePlugin, GaussianNoise, MeanAbsoluteError


@pytest.fixture
def fakes():
    with registered(FakePlugin()) as reg:
        yield reg


def _images(n=5, c=1, h=12, w=10):
    return torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(42))


def test_records_hold_what_happened(fakes):
    x = _images()
    pipe = Pipeline(degradations=[("tiny-noise", {"sigma": 0.2})], restorer="tiny-box",
                    metrics=["tiny-mae"], device="cpu", seed=3)
    records = list(pipe.run(x))
    assert [r.index for r in records] == list(range(5))
    assert [r.name for r in records] == [str(i) for i in range(5)]
    for i, r in enumerate(records):
        assert torch.equal(r.clean, x[i:i + 1])
        expected = GaussianNoise(0.2).apply(x[i:i + 1], seed=image_seed(3, i, 0)).image
        assert torch.equal(r.degraded, expected)
        assert torch.allclose(r.restored, BoxRestorer().restore(expected))
        assert r.metrics["tiny-mae"] == pytest.approx(float((r.restored - r.clean).abs().mean()), rel=1e-6)
        assert r.baseline["tiny-mae"] == pytest.approx(float((r.degraded - r.clean).abs().mean()), rel=1e-6)
        assert r.info["sigma"] == 0.2 and r.info["steps"][0]["degradation"] == "tiny-noise"
        assert r.output is r.restored and r.ok and r.seconds >= 0


def test_results_do_not_depend_on_batch_size(fakes):
    x = _images(7)
    runs = [list(Pipeline(degradations=["tiny-noise"], restorer="tiny-box", metrics=["tiny-mae"],
                          device="cpu", seed=1, batch_size=b).run(x)) for b in (1, 3, 7)]
    for other in runs[1:]:
        for a, b in zip(runs[0], other):
            assert torch.equal(a.degraded, b.degraded)
            assert torch.allclose(a.restored, b.restored, atol=1e-6)
            assert a.metrics == pytest.approx(b.metrics)


def test_batches_reach_the_restorer(fakes):
    restorer = BoxRestorer(device="cpu")
    list(Pipeline(restorer=restorer, device="cpu", batch_size=3).run(_images(7)))
    assert [c["batch"] for c in restorer.calls] == [3, 3, 1]


def test_different_seeds_and_stages_give_different_noise(fakes):
    x = _images(2)
    a = next(Pipeline(degradations=["tiny-noise"], seed=0, device="cpu").run(x))
    b = next(Pipeline(degradations=["tiny-noise"], seed=1, device="cpu").run(x))
    assert not torch.equal(a.degraded, b.degraded)
    assert image_seed(0, 0, 0) != image_seed(0, 0, 1) != image_seed(0, 1, 0)


def test_streaming_pulls_images_lazily(fakes):
    pulled = []

    def source():
        for i in range(100):
            pulled.append(i)
            yield _images(1)[0]

    run = Pipeline(restorer="tiny-box", device="cpu", batch_size=2).run(source())
    next(run)
    # one batch of two, plus the image that told the batch it was full
    assert len(pulled) <= 3


def test_true_params_reach_the_restorer_only_when_asked(fakes):
    x = _images(2)
    blind, informed = BoxRestorer(device="cpu"), BoxRestorer(device="cpu")
    blind.spec = informed.spec = pixelsmith.spec("restorer", "tiny-box")
    list(Pipeline(degradations=[("tiny-noise", {"sigma": 0.05})], restorer=blind, device="cpu").run(x))
    list(Pipeline(degradations=[("tiny-noise", {"sigma": 0.05})], restorer=informed, device="cpu",
                  pass_true_params=True).run(x))
    assert "sigma" not in blind.calls[0]
    assert informed.calls[0]["sigma"] == 0.05


def test_folder_input_records_unreadable_files_and_goes_on(fakes, tmp_path):
    write_image(tmp_path / "a.png", _images(1)[0])
    (tmp_path / "b.png").write_bytes(b"broken")
    write_image(tmp_path / "sub" / "c.png", _images(1, c=3)[0])
    records = list(Pipeline(restorer="tiny-box", device="cpu", on_error="record").run(tmp_path))
    assert [(r.name, r.ok) for r in records] == [("a.png", True), ("b.png", False), ("sub/c.png", True)]
    assert "b.png" in records[1].error
    assert records[0].source.bit_depth == 8 and records[2].restored.shape == (1, 3, 12, 10)
    with pytest.raises(ImageReadError, match="b.png"):
        list(Pipeline(restorer="tiny-box", device="cpu").run(tmp_path))


def test_evaluate_means_match_the_records(fakes):
    x = torch.full((4, 1, 12, 10), 0.5)  # flat images: a box filter can only remove noise from them
    pipe = Pipeline(degradations=["tiny-noise"], restorer="tiny-box", metrics=[MeanAbsoluteError()],
                    device="cpu")
    records = list(pipe.run(x))
    summary = pipe.evaluate(x)
    assert summary.count == 4 and summary.failed == 0
    assert summary.metrics["tiny-mae"] == pytest.approx(sum(r.metrics["tiny-mae"] for r in records) / 4)
    assert summary.metrics["tiny-mae"] < summary.baseline["tiny-mae"]  # the box filter does denoise
    assert summary.to_dict()["settings"]["degradations"][0] == {"name": "tiny-noise", "sigma": 0.1}


def test_mixed_sizes_and_named_items(fakes):
    items = [("small", torch.rand(1, 8, 8)), ("large", torch.rand(3, 16, 9))]
    records = list(Pipeline(restorer="tiny-box", device="cpu", batch_size=4).run(items))
    assert [(r.name, tuple(r.restored.shape)) for r in records] == [("small", (1, 1, 8, 8)),
                                                                   ("large", (1, 3, 16, 9))]


def test_with_the_builtin_components():
    x = torch.full((2, 1, 32, 32), 0.5)
    summary = Pipeline(degradations=[("gaussian-noise", {"sigma": 0.1})], metrics=["psnr"],
                       device="cpu").evaluate(x)
    # σ = 0.1 noise around mid-grey (no clipping) is 20 dB
    assert summary.metrics["psnr"] == pytest.approx(20.0, abs=0.5)


@pytest.mark.parametrize("kwargs, message", [
    ({"seed": -1}, "seed"),
    ({"batch_size": 0}, "batch_size"),
    ({"on_error": "ignore"}, "on_error"),
    ({"restorer": 3}, "restorer"),
    ({"degradations": [3]}, "degradation"),
])
def test_bad_arguments_say_what_is_wrong(fakes, kwargs, message):
    with pytest.raises(InvalidInputError, match=message):
        Pipeline(device="cpu", **kwargs)


def test_bad_images_raise_pixelsmith_errors(fakes):
    with pytest.raises(InvalidInputError):
        list(Pipeline(device="cpu").run(torch.rand(2, 2, 4, 4)))
    with pytest.raises(InvalidInputError, match="one image"):
        list(Pipeline(device="cpu").run([torch.rand(2, 1, 4, 4)]))
    with pytest.raises(InvalidInputError, match="iterable"):
        list(Pipeline(device="cpu").run(5))


def test_true_sigma_is_the_noise_level_not_the_blur_width(fakes):
    x = _images(1)
    informed = BoxRestorer(device="cpu")
    informed.spec = pixelsmith.spec("restorer", "tiny-box")
    blur = pixelsmith.degradation("gaussian-blur", sigma=2.0, noise=0.01)
    list(Pipeline(degradations=[blur], restorer=informed, device="cpu", pass_true_params=True).run(x))
    assert informed.calls[0]["sigma"] == 0.01
