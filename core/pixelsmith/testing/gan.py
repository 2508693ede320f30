"""The shared tests of a GAN plugin built on pixelsmith's GAN scaffolding
(:class:`~pixelsmith.training.gan_weights.TrainedGANGenerator`).

A plugin's test module subclasses :class:`GANPluginTests`, names its generator classes and the
architecture options that make a tiny network, and pytest collects every test below for it::

    from pixelsmith.testing.gan import GANPluginTests
    from my_gan.plugin import MyGAN, ConditionalMyGAN

    class TestMyGAN(GANPluginTests):
        generator = MyGAN                    # the unconditional component
        conditional = ConditionalMyGAN       # the class-conditional one (None: those tests skip)
        tiny = {"width": "8"}                # key=value options of a network small enough for tests
        invalid_architecture = ({"image_size": "48"}, "image_size")   # refused options, message

The tests train tiny networks for a few steps on the ``pixelsmith_tiny_digits`` fixture: resume is
bitwise exact, checkpoints and weights files rebuild the architecture they record, sampling is
deterministic, signals stop with a checkpoint, the conditional and unconditional components refuse
each other's files, labels steer the samples, the export of a checkpoint equals the trained file,
the command line trains and generates, and shipped weights (when present) pass the conformance kit.
Imports pytest; for test modules only.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
from pathlib import Path
from typing import Any, ClassVar, Mapping

import pytest
import torch

import pixelsmith

from ..errors import InvalidInputError, TrainingError, WeightsError
from ..training import TrainConfig, load_checkpoint
from ..training.gan import GENERATOR_FILE
from ..training.gan_weights import TrainedGANGenerator, call_with_options
from ..weights import read_metadata, sha256_of

__all__ = ["GANPluginTests"]


def _tensors(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path).tensors


def _differing(a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor]) -> list[str]:
    """Keys whose tensors differ (the global RNG state saved for the record excepted)."""
    return [k for k in a if not k.startswith("rng.") and not torch.equal(a[k], b[k])]


class GANPluginTests:
    """Subclass as ``Test<Name>`` in a plugin's tests; see the module docstring."""

    generator: ClassVar[type[TrainedGANGenerator]]
    conditional: ClassVar[type[TrainedGANGenerator] | None] = None
    tiny: ClassVar[Mapping[str, str]] = {}
    invalid_architecture: ClassVar[tuple[Mapping[str, str], str] | None] = None

    # -- helpers ------------------------------------------------------------------------------------------
    def config(self, out: Path, data: Path, steps: int, **kw: Any) -> TrainConfig:
        return TrainConfig(out=out, data=data, steps=steps, batch_size=16, checkpoint_every=3, sample_every=3,
                           quiet=True, seed=kw.pop("seed", 7), device="cpu",
                           extra={**self.tiny, **kw.pop("extra", {})}, **kw)

    def train(self, config: TrainConfig) -> Path:
        return self.generator.train_function()(config)

    def train_conditional(self, config: TrainConfig) -> Path:
        if self.conditional is None:
            pytest.skip("no class-conditional component")
        return self.conditional.train_function()(config)

    @pytest.fixture(scope="class")
    @classmethod
    def trained_conditional(cls, tmp_path_factory: pytest.TempPathFactory, pixelsmith_tiny_digits: Path) -> Path:
        """A class-conditional run of 6 steps (seed 5), shared by the conditional tests of the class."""
        tests = cls()
        out = tmp_path_factory.mktemp("conditional") / "run"
        tests.train_conditional(tests.config(out, pixelsmith_tiny_digits, 6, seed=5))
        return out

    # -- training, resume, weights files ---------------------------------------------------------------------
    def test_resume_matches_uninterrupted_run_exactly(self, tmp_path: Path, pixelsmith_tiny_digits: Path) -> None:
        # with DiffAugment (not the default for gray data), so its seeded draws are covered too; the
        # resumed run is not told the policy: it keeps what the run folder recorded
        aug = {"augment_policy": "translation,cutout"}
        straight = self.train(self.config(tmp_path / "a", pixelsmith_tiny_digits, 6, extra=aug))
        self.train(self.config(tmp_path / "b", pixelsmith_tiny_digits, 3, extra=aug))
        resumed = self.train(self.config(tmp_path / "b", pixelsmith_tiny_digits, 6, resume=True))
        a, b = _tensors(straight), _tensors(resumed)
        assert load_checkpoint(resumed).step == 6
        assert load_checkpoint(resumed).metadata["augment_policy"] == "translation,cutout"
        assert set(a) == set(b)
        assert any(k.startswith("optim.D.state") for k in a) and any(k.startswith("G_ema.") for k in a)
        assert _differing(a, b) == []
        from safetensors.torch import load_file

        fa, fb = load_file(tmp_path / "a" / GENERATOR_FILE), load_file(tmp_path / "b" / GENERATOR_FILE)
        assert [k for k in fa if not torch.equal(fa[k], fb[k])] == []
        assert read_metadata(tmp_path / "a" / GENERATOR_FILE) == read_metadata(tmp_path / "b" / GENERATOR_FILE)
        assert (tmp_path / "a" / "samples-00000006.png").is_file()
        assert (tmp_path / "a" / "log.jsonl").read_text().strip()

    def test_weights_rebuild_architecture_and_sample_deterministically(self, tmp_path: Path,
                                                                        pixelsmith_tiny_digits: Path) -> None:
        self.train(self.config(tmp_path / "run", pixelsmith_tiny_digits, 3, extra={"image_size": "32", "channels": "3"}))
        weights = tmp_path / "run" / GENERATOR_FILE
        meta = read_metadata(weights)
        assert '"image_size": 32' in meta["model_config"]
        # unconditional configs carry no num_classes, as before it existed: older run folders still --resume
        assert "num_classes" not in meta["model_config"]
        # RGB data gets the full DiffAugment policy; gray digits drop the colour ops (see GAN_DEFAULTS)
        assert meta["augment"] == "true"
        ckpt = load_checkpoint(tmp_path / "run" / "checkpoint-00000003.safetensors")
        assert ckpt.metadata["augment_policy"] == "color,translation,cutout"
        gen = self.generator(device="cpu", weights=weights)
        assert gen.output_shape == (3, 32, 32)
        x = gen.sample(40, seed=3, batch_size=16)
        assert x.shape == (40, 3, 32, 32) and x.dtype == torch.float32
        assert torch.equal(x, gen.sample(40, seed=3, batch_size=16))
        # another batch size may change the BLAS kernel, so only rounding may differ
        torch.testing.assert_close(x, gen.sample(40, seed=3, batch_size=7), atol=1e-5, rtol=0)
        assert not torch.equal(x, gen.sample(40, seed=4))
        steps = gen.interpolate(gen.latents(1, 0), gen.latents(1, 1), steps=5)
        assert steps.shape == (5, 3, 32, 32)
        torch.testing.assert_close(steps[0], gen.decode(gen.latents(1, 0))[0], atol=1e-5, rtol=0)
        torch.testing.assert_close(steps[-1], gen.decode(gen.latents(1, 1))[0], atol=1e-5, rtol=0)

    def test_existing_run_needs_resume_and_bad_options_are_clear(self, tmp_path: Path,
                                                                 pixelsmith_tiny_digits: Path) -> None:
        self.train(self.config(tmp_path / "run", pixelsmith_tiny_digits, 3))
        with pytest.raises(TrainingError, match="--resume"):
            self.train(self.config(tmp_path / "run", pixelsmith_tiny_digits, 6))
        with pytest.raises(TrainingError, match="latent_dim"):
            self.train(self.config(tmp_path / "x", pixelsmith_tiny_digits, 3, extra={"latent_dim": "lots"}))
        if self.invalid_architecture is not None:
            options, message = self.invalid_architecture
            with pytest.raises(TrainingError, match=message):
                self.train(self.config(tmp_path / "y", pixelsmith_tiny_digits, 3, extra=dict(options)))
        with pytest.raises(TrainingError, match="unknown training option"):
            self.train(self.config(tmp_path / "z", pixelsmith_tiny_digits, 3, extra={"nfg": "8"}))
        assert not any((tmp_path / d).exists() for d in ("x", "y", "z"))  # refused before the run folder

    def test_sigint_writes_a_checkpoint_and_stops(self, tmp_path: Path, pixelsmith_tiny_digits: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
        from ..training import session as session_mod

        real_iterate = session_mod.TrainingSession.iterate

        def iterate(session: Any, start: int) -> Any:
            for step in real_iterate(session, start):
                if step == 2:
                    os.kill(os.getpid(), signal.SIGINT)
                yield step

        monkeypatch.setattr(session_mod.TrainingSession, "iterate", iterate)
        path = self.train(self.config(tmp_path / "run", pixelsmith_tiny_digits, 1000))
        assert load_checkpoint(path).step == 2
        assert session_mod.stop_signal() == signal.SIGINT
        assert not (tmp_path / "run" / GENERATOR_FILE).exists()

    def test_wrong_sha256_is_refused(self, tmp_path: Path, pixelsmith_tiny_digits: Path) -> None:
        self.train(self.config(tmp_path / "run", pixelsmith_tiny_digits, 3))
        with pytest.raises(WeightsError, match="sha256"):
            self.generator(device="cpu", weights=tmp_path / "run" / GENERATOR_FILE, sha256="0" * 64)

    def test_shipped_weights_sample_2000_digits_deterministically(self) -> None:
        shipped = self.generator.shipped_weights
        if shipped is None or not shipped.path.is_file():
            pytest.skip("no shipped weights")
        gen = pixelsmith.generator(self.generator.component, device="cpu")
        x = gen.sample(2000, seed=0)
        assert x.shape == (2000, *self.generator.generator_spec().output_shape)
        assert float(x.min()) >= 0 and float(x.max()) <= 1
        assert torch.equal(x, pixelsmith.generator(self.generator.component, device="cpu").sample(2000, seed=0))
        assert sha256_of(shipped.path) == shipped.sha256
        assert 0.05 < float(x.mean()) < 0.35  # digit-like ink coverage, not blank or saturated
        from . import check_generator

        check_generator(self.generator.component)

    # -- the class-conditional component ---------------------------------------------------------------------
    def _conditional(self) -> type[TrainedGANGenerator]:
        if self.conditional is None:
            pytest.skip("no class-conditional component")
        return self.conditional

    def _tiny_options(self, num_classes: int) -> dict[str, int]:
        cls = self._conditional()
        return {**cls.architecture_defaults(), **{k: int(v) for k, v in self.tiny.items()}, "num_classes": num_classes}

    def test_conditional_networks_use_the_labels(self) -> None:
        cls = self._conditional()
        torch.manual_seed(0)
        options = self._tiny_options(10)
        g = call_with_options(cls.network, options)
        d = call_with_options(cls.discriminator, options).eval()
        z = torch.randn(4, options["latent_dim"])
        a, b = g(z, torch.tensor([0, 1, 2, 3])), g(z, torch.tensor([4, 4, 4, 4]))
        assert a.shape == (4, *cls.generator_spec().output_shape) and not torch.allclose(a, b)
        # the projection term: D's logit moves with the label alone
        x = torch.rand(2, *cls.generator_spec().output_shape)
        assert not torch.allclose(d(x, torch.tensor([0, 0])), d(x, torch.tensor([7, 7])))
        with pytest.raises(ValueError, match="one label per image"):
            g(z)
        with pytest.raises(ValueError, match="not class-conditional"):
            call_with_options(cls.network, self._tiny_options(0))(z, torch.zeros(4, dtype=torch.long))

    def test_conditional_resume_is_exact_and_metadata_says_conditional(self, tmp_path: Path, trained_conditional: Path,
                                                                      pixelsmith_tiny_digits: Path) -> None:
        cls = self._conditional()
        self.train_conditional(self.config(tmp_path / "b", pixelsmith_tiny_digits, 3, seed=5))
        resumed = self.train_conditional(self.config(tmp_path / "b", pixelsmith_tiny_digits, 6, resume=True, seed=5))
        a = _tensors(trained_conditional / "checkpoint-00000006.safetensors")
        b = _tensors(resumed)
        assert set(a) == set(b) and any(k.startswith("D.embed") for k in a)
        assert _differing(a, b) == []
        meta = read_metadata(trained_conditional / GENERATOR_FILE)
        assert meta["component"] == cls.component
        config = json.loads(meta["model_config"])
        assert config["conditional"] is True and config["num_classes"] == 10

    def test_tiny_conditional_model_passes_the_conformance_kit_with_labels(self, trained_conditional: Path) -> None:
        from . import check_generator

        cls = self._conditional()
        path = trained_conditional / GENERATOR_FILE
        gen = cls(device="cpu", weights=path)
        gen.spec = dataclasses.replace(cls.generator_spec(), weights=pixelsmith.WeightsFile(path, sha256_of(path)))
        check_generator(gen)

    def test_labels_choose_the_class_and_default_cycles(self, trained_conditional: Path) -> None:
        gen = self._conditional()(device="cpu", weights=trained_conditional / GENERATOR_FILE)
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
        with pytest.raises(InvalidInputError, match="integers"):
            gen.sample(2, seed=0, labels=torch.tensor([0.0, 1.0]))

    def test_checkpoint_export_matches_the_final_generator_file(self, tmp_path: Path, trained_conditional: Path) -> None:
        cls = self._conditional()
        sha = cls.export_checkpoint(trained_conditional / "checkpoint-00000006.safetensors", tmp_path / "g.safetensors")
        assert sha == sha256_of(tmp_path / "g.safetensors")
        a = cls(device="cpu", weights=tmp_path / "g.safetensors").sample(20, seed=0)
        b = cls(device="cpu", weights=trained_conditional / GENERATOR_FILE).sample(20, seed=0)
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)

    def test_half_precision_export_samples_nearly_the_same(self, tmp_path: Path, trained_conditional: Path) -> None:
        from safetensors.torch import load_file

        cls = self._conditional()
        ckpt = trained_conditional / "checkpoint-00000006.safetensors"
        cls.export_checkpoint(ckpt, tmp_path / "g32.safetensors")
        cls.export_checkpoint(ckpt, tmp_path / "g16.safetensors", half=True)
        tensors = load_file(tmp_path / "g16.safetensors")
        assert {v.dtype for v in tensors.values() if v.is_floating_point()} == {torch.float16}
        assert read_metadata(tmp_path / "g16.safetensors")["storage_dtype"] == "float16"
        assert (tmp_path / "g16.safetensors").stat().st_size < 0.6 * (tmp_path / "g32.safetensors").stat().st_size
        a = cls(device="cpu", weights=tmp_path / "g16.safetensors").sample(20, seed=0)
        b = cls(device="cpu", weights=tmp_path / "g32.safetensors").sample(20, seed=0)
        assert a.dtype == torch.float32
        torch.testing.assert_close(a, b, atol=2e-2, rtol=0)

    def test_the_two_components_refuse_each_others_files(self, tmp_path: Path, trained_conditional: Path,
                                                         pixelsmith_tiny_digits: Path) -> None:
        cls = self._conditional()
        with pytest.raises(WeightsError, match=f"class-conditional model.*{cls.component}"):
            self.generator(device="cpu", weights=trained_conditional / GENERATOR_FILE)
        self.train(self.config(tmp_path / "plain", pixelsmith_tiny_digits, 3))
        with pytest.raises(WeightsError, match="unconditional model"):
            cls(device="cpu", weights=tmp_path / "plain" / GENERATOR_FILE)
        plain = self.generator(device="cpu", weights=tmp_path / "plain" / GENERATOR_FILE)
        with pytest.raises(InvalidInputError, match="not class-conditional"):
            plain.sample(2, seed=0, labels=torch.tensor([0, 1]))

    def test_unlabelled_data_and_bad_class_counts_are_clear(self, tmp_path: Path, pixelsmith_tiny_photos: Path) -> None:
        with pytest.raises(TrainingError, match="num_classes"):
            self.train_conditional(self.config(tmp_path / "x", tmp_path, 3, extra={"num_classes": "1"}))
        with pytest.raises(TrainingError, match="labelled data"):
            self.train_conditional(self.config(tmp_path / "y", pixelsmith_tiny_photos, 3))

    def test_cli_trains_and_generates_with_labels(self, tmp_path: Path, trained_conditional: Path,
                                                  pixelsmith_tiny_digits: Path, capsys: pytest.CaptureFixture) -> None:
        from ..cli import main
        from ..io import read_image

        cls = self._conditional()
        out = tmp_path / "cli"
        tiny = [f"{k}={v}" for k, v in self.tiny.items()]
        assert main(["train", cls.component, "--data", str(pixelsmith_tiny_digits), "--steps", "2", "--batch-size",
                     "8", "--out", str(out), "--device", "cpu", "--quiet", *tiny]) == 0
        assert read_metadata(out / GENERATOR_FILE)["component"] == cls.component
        weights = f"weights={trained_conditional / GENERATOR_FILE}"
        assert main(["generate", cls.component, weights, "-n", "4", "--seed", "2", "--label", "3", "--label", "8",
                     "--each", str(tmp_path / "each"), "--device", "cpu", "--quiet"]) == 0
        expected = cls(device="cpu", weights=trained_conditional / GENERATOR_FILE).sample(
            4, seed=2, labels=torch.tensor([3, 8, 3, 8]))
        for i in range(4):
            image = read_image(tmp_path / "each" / f"sample_{i:04d}.png")
            assert torch.allclose(image, expected[i:i + 1], atol=1 / 255)
        if self.generator.shipped_weights is not None and self.generator.shipped_weights.path.is_file():
            capsys.readouterr()
            assert main(["generate", self.generator.component, "--label", "3", "-n", "2", "-o",
                         str(tmp_path / "x.png"), "--device", "cpu"]) == 2
            assert "not class-conditional" in capsys.readouterr().err
            assert not (tmp_path / "x.png").exists()

    def test_shipped_conditional_weights_pass_the_kit_and_draw_the_asked_digit(self) -> None:
        cls = self._conditional()
        shipped = cls.shipped_weights
        if shipped is None or not shipped.path.is_file():
            pytest.skip("no shipped class-conditional weights")
        from . import check_generator

        assert sha256_of(shipped.path) == shipped.sha256
        check_generator(cls.component)
        gen = pixelsmith.generator(cls.component, device="cpu")
        x = gen.sample(2000, seed=0)
        assert x.shape == (2000, 1, 28, 28) and torch.equal(x, gen.sample(2000, seed=0))
        # the project's MNIST CNN (genmetrics) reads the requested class back from most samples
        extractor = pytest.importorskip("pixelsmith_genmetrics.classifier").load_feature_extractor("cpu")
        agree = (extractor.probabilities(x).argmax(1) == torch.arange(2000) % 10).float().mean()
        assert agree > 0.9
