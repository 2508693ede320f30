"""``pixelsmith train deblur part=pnp-prior``: the kernel draw, the prior's forward against
unet-denoise's own, and a tiny fine-tune that resumes exactly and feeds the restorer."""

from __future__ import annotations

import pytest
import torch

import pixelsmith
from pixelsmith.plugin import TrainConfig, TrainingError, blur_with_kernel, read_metadata
from pixelsmith.testing import check_resume, requires_component
from pixelsmith_deblur import Deblurrer
from pixelsmith.plugin import gaussian_kernel, line_kernel
from pixelsmith_deblur.prior_training import (KERNEL_FAMILIES, MAX_KERNEL, draw_training_kernel, perturb_kernel,
                                             prior_denoise)

needs_denoiser = requires_component("restorer", "unet-denoise")


def test_kernel_draw_covers_every_construction_and_is_seeded():
    draws = [draw_training_kernel(torch.Generator().manual_seed(s)) for s in range(60)]
    assert {f for f, _ in draws} == set(KERNEL_FAMILIES)
    for _, k in draws:
        side = k.shape[-1]
        assert k.shape == (side, side) and side % 2 == 1 and side <= MAX_KERNEL
        assert float(k.min()) >= 0 and abs(float(k.sum()) - 1) < 1e-5
    again = draw_training_kernel(torch.Generator().manual_seed(7))
    assert again[0] == draws[7][0] and torch.equal(again[1], draws[7][1])


def _spread(k: torch.Tensor) -> tuple[float, float]:
    """(standard deviation along x, along y) of a kernel's taps about its centre of mass."""
    c = torch.arange(k.shape[-1], dtype=torch.float64) - (k.shape[-1] - 1) / 2
    y, x = torch.meshgrid(c, c, indexing="ij")
    k = k.double()
    mx, my = (k * x).sum(), (k * y).sum()
    return float((k * (x - mx) ** 2).sum().sqrt()), float((k * (y - my) ** 2).sum().sqrt())


def test_kernel_perturbation_stretches_and_turns_within_its_bounds():
    g = gaussian_kernel(2.0)
    base = _spread(g)[0]
    spreads = [_spread(perturb_kernel(g, torch.Generator().manual_seed(s)))[0] for s in range(20)]
    # σ scales by the stretch factor, within ±15 % (bilinear resampling and the wider frame, which shows
    # more of the Gaussian's tail, add a little), and is not constant
    assert all(base / 1.16 < v < base * 1.2 for v in spreads) and max(spreads) - min(spreads) > 0.1 * base
    line = line_kernel(12.0, 0.0)
    turned = perturb_kernel(line, torch.Generator().manual_seed(1))
    assert turned.shape == (line.shape[0] + 2,) * 2 and float(turned.min()) >= 0
    assert abs(float(turned.sum()) - 1) < 1e-5 and _spread(turned)[1] > 0.05  # no longer exactly horizontal
    # no stretch, no turn: the same kernel in a 2-pixel-wider frame
    same = perturb_kernel(line, torch.Generator().manual_seed(0), scale=0.0, degrees=0.0)
    assert torch.allclose(same[1:-1, 1:-1], line, atol=1e-6)


@needs_denoiser
def test_prior_forward_is_unet_denoise_with_sigma_given():
    """The unrolled training runs the network exactly as deblur's pnp method calls unet-denoise."""
    den = pixelsmith.restorer("unet-denoise", device="cpu", weights=Deblurrer.prior_file.path, ensemble=1)
    g = torch.Generator().manual_seed(0)
    v = torch.rand(2, 1, 37, 50, generator=g) * 1.2 - 0.1   # a data-step iterate: values leave [0, 1]
    level = torch.tensor([0.02, 0.1])
    with torch.no_grad():
        ours = prior_denoise(den.model.eval(), v, level)
    assert torch.allclose(ours, den.restore(v, sigma=level), atol=1e-6)


def _config(out, data, steps, **extra):
    return TrainConfig(out=out, data=data, steps=steps, batch_size=2, checkpoint_every=2, sample_every=1000,
                       seed=3, device="cpu", quiet=True,
                       extra={"part": "pnp-prior", "patch": "16", "iterations": "2", "schedule_steps": "4",
                              "kernel_error": "0.5", **extra})


@needs_denoiser
def test_fine_tune_resumes_exactly_and_feeds_the_deblurrer(tmp_path, pixelsmith_tiny_photos):
    spec = pixelsmith.spec("restorer", "deblur")
    path = check_resume(spec.train, _config(tmp_path, pixelsmith_tiny_photos, 4)) / "pnp-prior.safetensors"
    meta = read_metadata(path)
    assert meta["component"] == "unet-denoise" and meta["iterations"] == "2" and meta["kernel_error"] == "0.5"
    assert meta["noise_max"] == "0.03"  # NOISE_MAX unless noise_max= says otherwise
    assert meta["init"] == str(Deblurrer.gaussian_prior_file.path)  # a fine-tune of the Gaussian denoiser by default
    assert {f"val_psnr_{f}" for f in KERNEL_FAMILIES} <= set(meta)
    # validation by data set as well: the overall figure is a mean of the photographs' and the leaves'
    photos, leaves, overall = (float(meta[k]) for k in ("val_psnr_photos", "val_psnr_leaves", "val_psnr"))
    assert min(photos, leaves) <= overall <= max(photos, leaves) and photos != leaves

    # the file is a unet-denoise weights file: deblur's pnp method takes it as its prior
    x = pixelsmith.data.load_photo("camera", channels=1)[..., 100:164, 100:164]
    k = draw_training_kernel(torch.Generator().manual_seed(2))[1]
    y = blur_with_kernel(x, k)
    tuned = pixelsmith.restorer("deblur", device="cpu", denoiser_weights=path, pnp_ensemble=1, pnp_iterations=2)
    pinned = pixelsmith.restorer("deblur", device="cpu", pnp_ensemble=1, pnp_iterations=2)
    a, b = tuned.restore(y, kernel=k, sigma=0.01), pinned.restore(y, kernel=k, sigma=0.01)
    assert a.shape == x.shape and not torch.equal(a, b)  # the fine-tuned weights are the ones used


def test_bad_init_is_refused(tmp_path, pixelsmith_tiny_photos):
    spec = pixelsmith.spec("restorer", "deblur")
    with pytest.raises(TrainingError, match="no such weights file"):
        spec.train(_config(tmp_path / "x", pixelsmith_tiny_photos, 1, init=str(tmp_path / "missing.safetensors")))


def test_noise_max_sets_the_training_noise_and_is_checked(tmp_path, pixelsmith_tiny_photos):
    from pixelsmith_deblur.prior_training import NOISE_MAX, PnPPriorTrainer

    assert PnPPriorTrainer(_config(tmp_path / "a", pixelsmith_tiny_photos, 1)).noise_max == NOISE_MAX
    assert PnPPriorTrainer(_config(tmp_path / "b", pixelsmith_tiny_photos, 1, noise_max="0.2")).noise_max == 0.2
    for bad in ("0", "-0.1", "0.6", "nan", "lots"):
        with pytest.raises(TrainingError, match="noise_max must be a number in"):
            PnPPriorTrainer(_config(tmp_path / "c", pixelsmith_tiny_photos, 1, noise_max=bad))


def test_the_training_blurs_draw_their_noise_up_to_noise_max(tmp_path, pixelsmith_tiny_photos, monkeypatch):
    import pixelsmith_deblur.prior_training as prior_training

    drawn: list[float] = []
    original = prior_training.gaussian_noise_like

    def recording(x, sigma, generator):
        drawn.append(float(sigma))
        return original(x, sigma, generator)

    monkeypatch.setattr(prior_training, "gaussian_noise_like", recording)
    prior_training.train_pnp_prior(_config(tmp_path, pixelsmith_tiny_photos, 2, noise_max="0.3"))
    training = [s for s in drawn if s != 0.01]  # the validation blurs are at 0.01
    assert len(training) == 4 and max(training) <= 0.3 and max(training) > prior_training.NOISE_MAX


@needs_denoiser
def test_blocks_deepens_a_shallower_init_without_changing_what_it_computes(tmp_path, pixelsmith_tiny_photos):
    from types import SimpleNamespace

    from pixelsmith_deblur.prior_training import PnPPriorTrainer

    said: list[str] = []
    session = SimpleNamespace(say=said.append)
    shallow = Deblurrer.heavy_noise_prior_file.path  # the prior's default network, one block per scale
    trainer = PnPPriorTrainer(_config(tmp_path, pixelsmith_tiny_photos, 1, init=str(shallow), blocks="2"))
    net = trainer.build(session).eval()
    assert net.config["blocks"] == 2 and "deepened from 1 to 2" in said[0]
    den = pixelsmith.restorer("unet-denoise", device="cpu", weights=shallow, ensemble=1)
    v = torch.rand(1, 1, 32, 40, generator=torch.Generator().manual_seed(1))
    level = torch.tensor([0.03])
    with torch.no_grad():
        assert torch.allclose(prior_denoise(net, v, level), den.restore(v, sigma=level), atol=1e-6)
    # the run's file says blocks=2, and the restorer builds it from that
    path = pixelsmith.spec("restorer", "deblur").train(
        _config(tmp_path / "run", pixelsmith_tiny_photos, 1, init=str(shallow), blocks="2"))
    assert path.name == "pnp-prior.safetensors" and '"blocks": 2' in read_metadata(path)["model_config"]
    with pytest.raises(TrainingError, match="blocks must be an int"):
        PnPPriorTrainer(_config(tmp_path / "bad", pixelsmith_tiny_photos, 1, blocks="0"))


def test_unshuffle_sets_the_priors_first_scale(tmp_path, pixelsmith_tiny_photos):
    from pixelsmith_deblur.prior_training import PRIOR_UNSHUFFLE, PnPPriorTrainer

    default = PnPPriorTrainer(_config(tmp_path / "a", pixelsmith_tiny_photos, 1)).recipe.make_model()
    full = PnPPriorTrainer(_config(tmp_path / "b", pixelsmith_tiny_photos, 1, unshuffle="1")).recipe.make_model()
    assert default.config["unshuffle"] == PRIOR_UNSHUFFLE == 2 and full.config["unshuffle"] == 1
    assert full.head.weight.shape[1] == 3 and default.head.weight.shape[1] == 3 * 4  # pixels, or 2×2 blocks


@needs_denoiser
def test_a_colour_init_is_made_gray_computing_what_it_does_on_a_gray_image(tmp_path, pixelsmith_tiny_photos):
    from types import SimpleNamespace

    from pixelsmith_deblur.prior_training import PnPPriorTrainer

    colour = pixelsmith.restorer("unet-denoise", device="cpu", ensemble=1)
    said: list[str] = []
    trainer = PnPPriorTrainer(_config(tmp_path, pixelsmith_tiny_photos, 1, init=str(colour.colour_weights_file.path),
                                      unshuffle="1"))
    net = trainer.build(SimpleNamespace(say=said.append)).eval()
    assert net.config["in_channels"] == 3 and net.config["out_channels"] == 1 and "made gray" in said[0]
    v = torch.rand(1, 1, 24, 32, generator=torch.Generator().manual_seed(2))
    level = torch.tensor([0.05])
    with torch.no_grad():
        ours = prior_denoise(net, v, level)
    theirs = colour.restore(v.expand(-1, 3, -1, -1), sigma=level).mean(1, keepdim=True)
    # the same network up to the half-precision rounding of head and tail (and the colour restore clamping each
    # channel before the average)
    diff = (ours - theirs).abs()
    assert diff.mean() < 1e-4 and diff.max() < 1e-2
    with pytest.raises(TrainingError, match="colour network"):  # the colour network works on pixels: unshuffle=1
        PnPPriorTrainer(_config(tmp_path / "b", pixelsmith_tiny_photos, 1,
                                init=str(colour.colour_weights_file.path))).build(SimpleNamespace(say=said.append))
