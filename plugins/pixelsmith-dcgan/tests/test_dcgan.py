"""Train a tiny DCGAN for a few steps; checkpoints round-trip, resume is exact, sampling is deterministic."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import pixelsmith
from pixelsmith.errors import TrainingError, WeightsError
from pixelsmith.training import TrainConfig, load_checkpoint
from pixelsmith.training.gan import GENERATOR_FILE
from pixelsmith.weights import read_metadata, sha256_of
from pixelsmith_dcgan.plugin import DCGAN, SHIPPED_WEIGHTS, train

TINY = {"ngf": "8", "ndf": "8"}


def _config(out: Path, data: Path, steps: int, **kw) -> TrainConfig:
    return TrainConfig(out=out, data=data, steps=steps, batch_size=16, checkpoint_every=3, sample_every=3,
                       quiet=True, seed=7, device="cpu", extra={**TINY, **kw.pop("extra", {})}, **kw)


def _tensors(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path).tensors


def test_resume_matches_uninterrupted_run_exactly(tmp_path, pixelsmith_tiny_digits):
    # with DiffAugment (no longer the default for gray data), so its seeded draws are covered too;
    # the resumed run is not told the policy: it keeps what the run folder recorded
    aug = {"augment_policy": "translation,cutout"}
    straight = train(_config(tmp_path / "a", pixelsmith_tiny_digits, 6, extra=aug))
    train(_config(tmp_path / "b", pixelsmith_tiny_digits, 3, extra=aug))
    resumed = train(_config(tmp_path / "b", pixelsmith_tiny_digits, 6, resume=True))
    a, b = _tensors(straight), _tensors(resumed)
    assert load_checkpoint(resumed).step == 6
    assert load_checkpoint(resumed).metadata["augment_policy"] == "translation,cutout"
    assert set(a) == set(b)
    assert any(k.startswith("optim.D.state") for k in a) and any(k.startswith("G_ema.") for k in a)
    for key in a:
        if key.startswith("rng."):
            continue
        assert torch.equal(a[key], b[key]), key
    ga = load_file(tmp_path / "a" / GENERATOR_FILE)
    gb = load_file(tmp_path / "b" / GENERATOR_FILE)
    assert [k for k in ga if not torch.equal(ga[k], gb[k])] == []
    assert read_metadata(tmp_path / "a" / GENERATOR_FILE) == read_metadata(tmp_path / "b" / GENERATOR_FILE)
    assert (tmp_path / "a" / "samples-00000006.png").is_file()
    assert (tmp_path / "a" / "log.jsonl").read_text().strip()


def test_weights_rebuild_architecture_and_sample_deterministically(tmp_path, pixelsmith_tiny_digits):
    train(_config(tmp_path / "run", pixelsmith_tiny_digits, 3, extra={"image_size": "32", "channels": "3"}))
    weights = tmp_path / "run" / GENERATOR_FILE
    assert '"image_size": 32' in read_metadata(weights)["model_config"]
    # unconditional configs carry no num_classes, as before it existed: older run folders still --resume
    assert "num_classes" not in read_metadata(weights)["model_config"]
    # RGB data gets the full DiffAugment policy; gray digits drop the colour ops (see GAN_DEFAULTS)
    ckpt = load_checkpoint(tmp_path / "run" / "checkpoint-00000003.safetensors")
    assert ckpt.metadata["augment_policy"] == "color,translation,cutout"
    gen = DCGAN(device="cpu", weights=weights)
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


def test_existing_run_needs_resume_and_bad_options_are_clear(tmp_path, pixelsmith_tiny_digits):
    train(_config(tmp_path / "run", pixelsmith_tiny_digits, 3))
    with pytest.raises(TrainingError, match="--resume"):
        train(_config(tmp_path / "run", pixelsmith_tiny_digits, 6))
    with pytest.raises(TrainingError, match="image_size"):
        train(_config(tmp_path / "x", pixelsmith_tiny_digits, 3, extra={"image_size": "48"}))
    with pytest.raises(TrainingError, match="unknown training option"):
        train(_config(tmp_path / "y", pixelsmith_tiny_digits, 3, extra={"nfg": "8"}))


def test_sigint_writes_a_checkpoint_and_stops(tmp_path, pixelsmith_tiny_digits, monkeypatch):
    from pixelsmith.training import session as session_mod

    real_iterate = session_mod.TrainingSession.iterate

    def iterate(self, start):
        for step in real_iterate(self, start):
            if step == 2:
                os.kill(os.getpid(), signal.SIGINT)
            yield step

    monkeypatch.setattr(session_mod.TrainingSession, "iterate", iterate)
    path = train(_config(tmp_path / "run", pixelsmith_tiny_digits, 1000))
    assert load_checkpoint(path).step == 2
    assert not (tmp_path / "run" / GENERATOR_FILE).exists()


def test_wrong_sha256_is_refused(tmp_path, pixelsmith_tiny_digits):
    train(_config(tmp_path / "run", pixelsmith_tiny_digits, 3))
    with pytest.raises(WeightsError, match="sha256"):
        DCGAN(device="cpu", weights=tmp_path / "run" / GENERATOR_FILE, sha256="0" * 64)


shipped = pytest.mark.skipif(not SHIPPED_WEIGHTS.path.is_file(), reason="weights not trained yet")


@shipped
def test_shipped_weights_sample_2000_digits_deterministically():
    gen = pixelsmith.generator("dcgan", device="cpu")
    x = gen.sample(2000, seed=0)
    assert x.shape == (2000, 1, 28, 28)
    assert float(x.min()) >= 0 and float(x.max()) <= 1
    assert torch.equal(x, pixelsmith.generator("dcgan", device="cpu").sample(2000, seed=0))
    assert sha256_of(SHIPPED_WEIGHTS.path) == SHIPPED_WEIGHTS.sha256
    assert 0.05 < float(x.mean()) < 0.35  # digit-like ink coverage, not blank or saturated


@shipped
def test_conformance_kit():
    testing = pytest.importorskip("pixelsmith.testing")
    if not hasattr(testing, "check_generator"):
        pytest.skip("pixelsmith.testing.check_generator not available")
    testing.check_generator("dcgan")


def test_shared_trainer_class_conditional_path(tmp_path, pixelsmith_tiny_digits):
    """The trainer's conditional branch (labels to G and D), with tiny label-aware MLPs."""
    from torch import nn

    from pixelsmith.training.gan import train_gan

    class G(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb, self.fc = nn.Embedding(10, 8), nn.Linear(16, 784)

        def forward(self, z, y):
            return torch.sigmoid(self.fc(torch.cat([z, self.emb(y)], 1))).reshape(-1, 1, 28, 28)

    class D(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb, self.fc = nn.Embedding(10, 784), nn.Linear(784, 1)

        def forward(self, x, y):
            return self.fc(x.flatten(1) * torch.sigmoid(self.emb(y))).squeeze(1)

    def run(out, steps, resume=False):
        cfg = TrainConfig(out=out, data=pixelsmith_tiny_digits, steps=steps, batch_size=16, checkpoint_every=2,
                          sample_every=2, quiet=True, resume=resume, device="cpu")
        return train_gan(cfg, component="cgan-test", build_generator=G, build_discriminator=D, latent_dim=8,
                         image_size=28, channels=1, conditional=True)

    a = load_checkpoint(run(tmp_path / "a", 4)).tensors
    run(tmp_path / "b", 2)
    b = load_checkpoint(run(tmp_path / "b", 4, resume=True)).tensors
    assert all(torch.equal(a[k], b[k]) for k in a if not k.startswith("rng."))
    assert (tmp_path / "a" / GENERATOR_FILE).is_file()
