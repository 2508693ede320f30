"""The class-conditional MLP-GAN (``mlp-gan-cond``): labels steer the samples, the conformance kit's
``labels`` check passes, resume is exact, and it and ``mlp-gan`` refuse each other's weights files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import pixelsmith
from pixelsmith.errors import InvalidInputError, TrainingError, WeightsError
from pixelsmith.training import TrainConfig, load_checkpoint
from pixelsmith.training.gan import GENERATOR_FILE
from pixelsmith.weights import read_metadata, sha256_of
from pixelsmith_mlpgan.model import MLPDiscriminator, MLPGenerator
from pixelsmith_mlpgan.plugin import (CONDITIONAL_WEIGHTS, MLPGAN, ConditionalMLPGAN, export, train,
                                      train_conditional)


def _config(out: Path, data: Path, steps: int, **kw) -> TrainConfig:
    return TrainConfig(out=out, data=data, steps=steps, batch_size=16, checkpoint_every=3, sample_every=3,
                       quiet=True, seed=5, device="cpu", extra={"hidden": "16", **kw.pop("extra", {})}, **kw)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, pixelsmith_tiny_digits) -> Path:
    out = tmp_path_factory.mktemp("mlpcond") / "run"
    train_conditional(_config(out, pixelsmith_tiny_digits, 6))
    return out


def test_networks_use_the_labels():
    torch.manual_seed(0)
    g, d = MLPGenerator(hidden=16, num_classes=10), MLPDiscriminator(hidden=16, num_classes=10).eval()
    z = torch.randn(4, 100)
    a, b = g(z, torch.tensor([0, 1, 2, 3])), g(z, torch.tensor([4, 4, 4, 4]))
    assert a.shape == (4, 1, 28, 28) and not torch.allclose(a, b)
    # the projection term: D's logit moves with the label alone
    x = torch.rand(2, 1, 28, 28)
    assert not torch.allclose(d(x, torch.tensor([0, 0])), d(x, torch.tensor([7, 7])))
    with pytest.raises(ValueError, match="one label per image"):
        g(z)
    with pytest.raises(ValueError, match="not class-conditional"):
        MLPGenerator(hidden=16)(z, torch.zeros(4, dtype=torch.long))


def test_unconditional_networks_keep_their_parameter_names():
    # checkpoints and weights files of mlp-gan runs written before the conditional variant still load
    assert [k for k, _ in MLPDiscriminator(hidden=16).named_parameters()] == [
        "net.0.weight", "net.0.bias", "net.3.weight", "net.3.bias", "net.6.weight", "net.6.bias"]
    assert MLPGenerator(hidden=16).net[0].in_features == 100
    assert MLPGenerator(hidden=16, num_classes=10).net[0].in_features == 110


def test_resume_is_exact_and_metadata_says_conditional(tmp_path, trained, pixelsmith_tiny_digits):
    train_conditional(_config(tmp_path / "b", pixelsmith_tiny_digits, 3))
    resumed = train_conditional(_config(tmp_path / "b", pixelsmith_tiny_digits, 6, resume=True))
    a = load_checkpoint(trained / "checkpoint-00000006.safetensors").tensors
    b = load_checkpoint(resumed).tensors
    assert set(a) == set(b) and any(k.startswith("D.embed") for k in a)
    assert [k for k in a if not k.startswith("rng.") and not torch.equal(a[k], b[k])] == []
    meta = read_metadata(trained / GENERATOR_FILE)
    assert meta["component"] == "mlp-gan-cond"
    assert '"conditional": true' in meta["model_config"] and '"num_classes": 10' in meta["model_config"]


def test_tiny_trained_model_passes_the_conformance_kit_with_labels(trained):
    import dataclasses

    from pixelsmith.testing import check_generator

    weights = pixelsmith.WeightsFile(trained / GENERATOR_FILE, sha256_of(trained / GENERATOR_FILE))
    gen = ConditionalMLPGAN(device="cpu", weights=weights.path)
    gen.spec = dataclasses.replace(pixelsmith.spec("generator", "mlp-gan-cond"), weights=weights)
    check_generator(gen)


def test_labels_choose_the_class_and_default_cycles(trained):
    gen = ConditionalMLPGAN(device="cpu", weights=trained / GENERATOR_FILE)
    assert gen.num_classes == 10 and gen.conditional
    z = gen.latents(12, seed=1)
    cycled = gen.decode(z)
    assert torch.equal(cycled, gen.decode(z, labels=torch.arange(12) % 10))
    assert torch.equal(gen.sample(12, seed=1), cycled)
    threes = gen.sample(12, seed=1, labels=3)
    assert torch.equal(threes, gen.decode(z, labels=torch.full((12,), 3)))
    assert not torch.equal(threes, cycled)
    path = gen.interpolate(z[0], z[1], steps=4, labels=7)
    torch.testing.assert_close(path[0], gen.decode(z[:1], labels=torch.tensor([7]))[0], atol=1e-5, rtol=0)
    with pytest.raises(InvalidInputError, match="0..9"):
        gen.sample(3, seed=0, labels=torch.tensor([0, 1, 10]))
    with pytest.raises(InvalidInputError, match="one integer or 3"):
        gen.sample(3, seed=0, labels=torch.tensor([0, 1]))


def test_checkpoint_export_matches_the_final_generator_file(tmp_path, trained):
    sha = export(trained / "checkpoint-00000006.safetensors", tmp_path / "g.safetensors")
    assert sha == sha256_of(tmp_path / "g.safetensors")
    a = ConditionalMLPGAN(device="cpu", weights=tmp_path / "g.safetensors").sample(20, seed=0)
    b = ConditionalMLPGAN(device="cpu", weights=trained / GENERATOR_FILE).sample(20, seed=0)
    torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


def test_half_precision_export_halves_the_file_and_samples_nearly_the_same(tmp_path, trained):
    from safetensors.torch import load_file

    export(trained / "checkpoint-00000006.safetensors", tmp_path / "g32.safetensors")
    export(trained / "checkpoint-00000006.safetensors", tmp_path / "g16.safetensors", half=True)
    tensors = load_file(tmp_path / "g16.safetensors")
    assert {v.dtype for v in tensors.values() if v.is_floating_point()} == {torch.float16}
    assert read_metadata(tmp_path / "g16.safetensors")["storage_dtype"] == "float16"
    size16, size32 = (tmp_path / "g16.safetensors").stat().st_size, (tmp_path / "g32.safetensors").stat().st_size
    assert size16 < 0.6 * size32
    a = ConditionalMLPGAN(device="cpu", weights=tmp_path / "g16.safetensors").sample(20, seed=0)
    b = ConditionalMLPGAN(device="cpu", weights=tmp_path / "g32.safetensors").sample(20, seed=0)
    assert a.dtype == torch.float32
    torch.testing.assert_close(a, b, atol=2e-2, rtol=0)


def test_the_two_components_refuse_each_others_files(tmp_path, trained, pixelsmith_tiny_digits):
    with pytest.raises(WeightsError, match="class-conditional model.*mlp-gan-cond"):
        MLPGAN(device="cpu", weights=trained / GENERATOR_FILE)
    train(_config(tmp_path / "plain", pixelsmith_tiny_digits, 3))
    with pytest.raises(WeightsError, match="unconditional model"):
        ConditionalMLPGAN(device="cpu", weights=tmp_path / "plain" / GENERATOR_FILE)
    with pytest.raises(InvalidInputError, match="not class-conditional"):
        MLPGAN(device="cpu", weights=tmp_path / "plain" / GENERATOR_FILE).sample(2, seed=0, labels=torch.tensor([0, 1]))


def test_unlabelled_data_and_bad_class_counts_are_clear(tmp_path, pixelsmith_tiny_photos):
    with pytest.raises(TrainingError, match="num_classes"):
        train_conditional(_config(tmp_path / "x", tmp_path, 3, extra={"num_classes": "1"}))
    with pytest.raises(TrainingError, match="labelled data"):
        train_conditional(_config(tmp_path / "y", pixelsmith_tiny_photos, 3))


def test_generate_cli_label_option(tmp_path, trained, capsys):
    from pixelsmith.cli import main
    from pixelsmith.io import read_image

    weights = f"weights={trained / GENERATOR_FILE}"
    assert main(["generate", "mlp-gan-cond", weights, "-n", "4", "--seed", "2", "--label", "3", "--label", "8",
                 "--each", str(tmp_path / "each"), "--device", "cpu", "--quiet"]) == 0
    expected = ConditionalMLPGAN(device="cpu", weights=trained / GENERATOR_FILE).sample(
        4, seed=2, labels=torch.tensor([3, 8, 3, 8]))
    for i in range(4):
        assert torch.allclose(read_image(tmp_path / "each" / f"sample_{i:04d}.png"), expected[i:i + 1], atol=1 / 255)


def test_train_cli_runs_the_conditional_trainer(tmp_path, pixelsmith_tiny_digits):
    from pixelsmith.cli import main

    out = tmp_path / "cli"
    assert main(["train", "mlp-gan-cond", "--data", str(pixelsmith_tiny_digits), "--steps", "2", "--batch-size", "8",
                 "--out", str(out), "--device", "cpu", "--quiet", "hidden=16"]) == 0
    assert read_metadata(out / GENERATOR_FILE)["component"] == "mlp-gan-cond"


shipped = pytest.mark.skipif(not CONDITIONAL_WEIGHTS.path.is_file(), reason="weights not trained yet")


@shipped
def test_shipped_weights_pass_the_kit_and_draw_the_asked_digit():
    from pixelsmith.testing import check_generator

    assert sha256_of(CONDITIONAL_WEIGHTS.path) == CONDITIONAL_WEIGHTS.sha256
    check_generator("mlp-gan-cond")
    gen = pixelsmith.generator("mlp-gan-cond", device="cpu")
    x = gen.sample(2000, seed=0)
    assert x.shape == (2000, 1, 28, 28) and torch.equal(x, gen.sample(2000, seed=0))
    # the project's MNIST CNN (genmetrics) reads the requested class back from most samples
    extractor = pytest.importorskip("pixelsmith_genmetrics.classifier").load_feature_extractor("cpu")
    agree = (extractor.probabilities(x).argmax(1) == torch.arange(2000) % 10).float().mean()
    assert agree > 0.9
