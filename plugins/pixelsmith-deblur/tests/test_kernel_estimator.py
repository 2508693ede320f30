"""The blind kernel estimator: Welch spectrum, output decoding, training, its use by ``deblur``."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import pixelsmith
from pixelsmith.plugin import (
    InvalidInputError,
    anisotropic_gaussian_kernel,
    line_kernel,
    TrainConfig,
    TrainingError,
    WeightsError,
    gaussian_kernel,
    motion_kernel,
    read_metadata,
    sha256_of,
    test_photos,
)
from pixelsmith.testing import check_resume
from pixelsmith_deblur import Deblurrer, blur_spectrum
from pixelsmith_deblur.kernel_estimator import (
    EXTRA_OUTPUTS,
    MOTION_LENGTHS,
    KernelEstimatorNet,
    decode,
    load_kernel_estimator,
    targets_from_blurs,
)
from pixelsmith_deblur import kernel_training
from pixelsmith_deblur.kernel_training import (
    ANISO_ACROSS,
    ANISO_ALONG,
    HEAVY_NOISE_MAX,
    MAX_SHAKE_SIDE,
    _draw_samples,
    draw_construction,
)


def _welch_numpy(img: np.ndarray, window: int, stride: int) -> np.ndarray:
    """The same estimate written out window by window in numpy."""
    hann = np.hanning(window)
    taper = np.outer(hann, hann)
    acc, n = np.zeros((window, window)), 0
    for y in range(0, img.shape[0] - window + 1, stride):
        for x in range(0, img.shape[1] - window + 1, stride):
            w = img[y:y + window, x:x + window]
            acc += np.abs(np.fft.fft2((w - w.mean()) * taper)) ** 2
            n += 1
    logp = np.fft.fftshift(np.log(acc / n + 1e-8))
    return logp - logp.mean()


def test_blur_spectrum_matches_a_numpy_welch_estimate():
    img = torch.rand(1, 1, 100, 130, generator=torch.Generator().manual_seed(0))
    ours = blur_spectrum(img, window=32, stride=16)[0, 0].numpy()
    ref = _welch_numpy(img[0, 0].double().numpy(), 32, 16)
    assert np.allclose(ours, ref, atol=1e-3)


def test_blur_spectrum_ignores_contrast_and_brightness_and_takes_any_size():
    img = test_photos(size=128)["camera"]
    a = blur_spectrum(img)
    b = blur_spectrum(0.5 * img + 0.2)
    assert torch.allclose(a, b, atol=1e-3)
    for shape in [(1, 1, 1, 1), (2, 1, 5, 70), (1, 1, 300, 40)]:
        out = blur_spectrum(torch.rand(shape))
        assert out.shape == (shape[0], 1, 64, 64) and bool(torch.isfinite(out).all())
    with pytest.raises(ValueError, match="gray"):
        blur_spectrum(torch.rand(1, 3, 64, 64))


def test_motion_blur_shows_as_stripes_across_its_direction():
    """Physics check of the feature: a horizontal motion blur removes horizontal frequencies only."""
    img = test_photos(size=256)["camera"]
    d = pixelsmith.degradation("motion-blur", length=9, angle=0.0).apply(img, seed=0).image
    spec = blur_spectrum(d)[0, 0] - blur_spectrum(img)[0, 0]
    c = 32
    # the first zero of a length-9 box is at 1/9 cycles per pixel: 64/9 ≈ 7 bins from the centre
    along_x, along_y = float(spec[c, c + 7]), float(spec[c + 7, c])
    assert along_x < along_y - 2.0


def _one_hot_outputs(blurs, families=2):
    t = targets_from_blurs(blurs)
    n, f = len(MOTION_LENGTHS), families
    e = EXTRA_OUTPUTS if families == 6 else 0
    out = torch.zeros(len(blurs), f + 3 + n + e)
    out[torch.arange(len(blurs)), t["family"]] = 10.0
    out[:, f] = t["sigma"]
    out[torch.arange(len(blurs)), f + 1 + t["length"]] = 10.0
    if e:
        out[:, f + 1 + n:f + 1 + n + e] = t["extras"]
    out[:, -2:] = t["angle"]
    return out


def test_targets_decode_back_to_the_same_kernels():
    blurs = [{"name": "gaussian-blur", "sigma": 1.7}, {"name": "motion-blur", "length": 11, "angle": 137.0},
             {"name": "motion-blur", "length": 3, "angle": 2.0}]
    est = decode(_one_hot_outputs(blurs))
    assert est[0].family == "gaussian" and est[0].sigma == pytest.approx(1.7, abs=1e-5)
    assert torch.allclose(est[0].kernel, gaussian_kernel(1.7), atol=1e-6)
    assert est[1].family == "motion" and est[1].length == 11 and est[1].angle == pytest.approx(137.0, abs=1e-3)
    assert torch.allclose(est[1].kernel, motion_kernel(11, 137.0), atol=1e-6)
    assert est[2].angle == pytest.approx(2.0, abs=1e-3)
    assert "motion length 11" in est[1].describe()


def test_a_three_family_estimator_can_answer_no_blur():
    blurs = [{"name": "none"}, {"name": "gaussian-blur", "sigma": 0.9}, {"name": "motion-blur", "length": 7, "angle": 40.0}]
    est = decode(_one_hot_outputs(blurs, families=3))
    assert est[0].family == "none" and est[0].kernel.shape == (1, 1) and float(est[0].kernel) == 1.0
    assert est[0].confidence > 0.99 and "no blur" in est[0].describe()
    assert est[0].p_none == est[0].confidence and est[1].p_none < 1e-3
    assert decode(_one_hot_outputs(blurs[1:]))[0].p_none == 0.0  # a two-family network cannot say it
    assert est[1].family == "gaussian" and est[1].sigma == pytest.approx(0.9, abs=1e-5)
    assert est[2].family == "motion" and est[2].length == 7 and est[2].angle == pytest.approx(40.0, abs=1e-3)
    # the network's width follows the number of families; two-family files (every one before) still load
    assert KernelEstimatorNet(width=8, families=3)(torch.zeros(2, 1, 64, 64)).shape == (2, 3 + 3 + len(MOTION_LENGTHS))
    assert KernelEstimatorNet(width=8)(torch.zeros(2, 1, 64, 64)).shape == (2, 2 + 3 + len(MOTION_LENGTHS))
    with pytest.raises(InvalidInputError, match="families"):
        KernelEstimatorNet(width=8, families=4)


def test_a_six_family_estimator_names_every_construction_with_its_parameters():
    blurs = [{"name": "line", "length": 12.4, "angle": 100.0},
             {"name": "anisotropic", "sigma_x": 2.5, "sigma_y": 0.7, "angle": 130.0},
             {"name": "shake"}, {"name": "gaussian-blur", "sigma": 1.3},
             {"name": "motion-blur", "length": 9, "angle": 30.0}]
    est = decode(_one_hot_outputs(blurs, families=6))
    assert [e.family for e in est] == ["line", "anisotropic", "shake", "gaussian", "motion"]
    assert est[0].expected_length == pytest.approx(12.4, abs=1e-4) and est[0].angle == pytest.approx(100.0, abs=1e-3)
    assert torch.allclose(est[0].kernel, line_kernel(12.4, 100.0), atol=1e-5)
    assert (est[1].sigma, est[1].sigma_minor) == (pytest.approx(2.5, abs=1e-5), pytest.approx(0.7, abs=1e-5))
    assert torch.allclose(est[1].kernel, anisotropic_gaussian_kernel(2.5, 0.7, 130.0), atol=1e-5)
    assert "camera shake" in est[2].describe() and "line 12.4 px" in est[0].describe()
    assert torch.allclose(est[3].kernel, gaussian_kernel(1.3), atol=1e-5)
    assert torch.allclose(est[4].kernel, motion_kernel(9, 30.0), atol=1e-6)
    # σ across read larger than σ along: the same Gaussian, described with its axes turned
    swapped = _one_hot_outputs(blurs[1:2], families=6)
    widths = slice(-2 - EXTRA_OUTPUTS, -2 - EXTRA_OUTPUTS + 2)  # σ along, σ across
    swapped[0, widths] = swapped[0, widths].flip(0)
    turned = decode(swapped)[0]
    assert turned.sigma > turned.sigma_minor and turned.angle == pytest.approx(40.0, abs=1e-3)
    assert torch.allclose(turned.kernel, anisotropic_gaussian_kernel(0.7, 2.5, 130.0), atol=1e-5)
    width = 6 + 3 + 3 + len(MOTION_LENGTHS)
    assert KernelEstimatorNet(width=8, families=6)(torch.zeros(2, 1, 64, 64)).shape == (2, width)


def test_the_construction_draw_is_seeded_and_covers_the_five_constructions():
    draws = [draw_construction(torch.Generator().manual_seed(s)) for s in range(60)]
    again = [draw_construction(torch.Generator().manual_seed(s)) for s in range(60)]
    assert all(torch.equal(a[1], b[1]) and a[0] == b[0] for a, b in zip(draws, again))
    assert {b["name"] for b, _ in draws} == {"gaussian-blur", "motion-blur", "line", "anisotropic", "shake"}
    for blur, k in draws:
        assert float(k.sum()) == pytest.approx(1.0, abs=1e-5) and float(k.min()) >= 0
        if blur["name"] == "shake":
            assert k.shape[-1] <= MAX_SHAKE_SIDE
        if blur["name"] == "anisotropic":  # σ along is the larger; the kernel is the one the record names
            assert ANISO_ACROSS[0] <= blur["sigma_y"] <= blur["sigma_x"] <= ANISO_ALONG[1]
            assert torch.allclose(k, anisotropic_gaussian_kernel(blur["sigma_x"], blur["sigma_y"], blur["angle"]))
    flat = [torch.full((1, 1, 300, 300), 0.5)]
    spectra, blurs = _draw_samples(flat, 20, torch.Generator().manual_seed(1), augment=False, fixed_crop=96,
                                   constructions="all")
    assert spectra.shape == (20, 1, 64, 64) and max(b["noise"] for b in blurs) <= 0.02
    assert len({b["name"] for b in blurs}) >= 4
    t = targets_from_blurs(blurs)
    line = [i for i, b in enumerate(blurs) if b["name"] == "line"]
    assert line and set(t["family"][line].tolist()) == {3} and float(t["extras"][line, 2].min()) >= 0


def test_training_draws_sharp_and_heavily_noisy_samples_only_when_asked(monkeypatch):
    flat = [torch.full((1, 1, 300, 300), 0.5)]  # a flat image: what is left in a sample is its noise
    rng = lambda: torch.Generator().manual_seed(5)
    _, plain = _draw_samples(flat, 40, rng(), augment=False, fixed_crop=96)
    assert {b["name"] for b in plain} == {"gaussian-blur", "motion-blur"} and max(b["noise"] for b in plain) <= 0.02
    spectra, blurs = _draw_samples(flat, 40, rng(), augment=False, fixed_crop=96, no_blur=0.5, heavy_noise=0.5)
    sharp = [b for b in blurs if b["name"] == "none"]
    heavy = [b for b in blurs if b["noise"] > 0.02]
    assert 8 <= len(sharp) <= 32 and 8 <= len(heavy) <= 32 and max(b["noise"] for b in blurs) <= HEAVY_NOISE_MAX
    assert spectra.shape == (40, 1, 64, 64)
    # the noise recorded is the noise in the image (a flat patch: its standard deviation; 0.5 ± 0.2 is never clipped)
    seen = []
    monkeypatch.setattr(kernel_training, "blur_spectrum", lambda image: seen.append(image) or blur_spectrum(image))
    _, some = _draw_samples(flat, 12, rng(), augment=False, fixed_crop=256, no_blur=0.5, heavy_noise=0.5)
    for image, b in zip(seen, some):
        if b["name"] == "none":
            assert float(image.std()) == pytest.approx(b["noise"], rel=0.03, abs=1e-3)
    assert any(b["name"] == "none" and b["noise"] > 0.05 for b in some)
    t = targets_from_blurs(blurs)
    assert set(t["family"][[b["name"] == "none" for b in blurs]].tolist()) == {2}


def test_a_no_blur_run_writes_a_three_family_estimator(tmp_path, pixelsmith_tiny_photos):
    spec = pixelsmith.spec("restorer", "deblur")
    config = _config(tmp_path, pixelsmith_tiny_photos, 2)
    config.extra.update(no_blur="0.3", heavy_noise="0.2")
    path = spec.train(config)  # spec.train returns the weights file
    meta = read_metadata(path)
    assert meta["no_blur"] == "0.3" and meta["heavy_noise"] == "0.2" and '"families": 3' in meta["model_config"]
    assert "val_none_recall" in meta
    estimator = load_kernel_estimator(path)
    assert estimator.raw(torch.rand(1, 1, 96, 96)).shape == (1, 3 + 3 + len(MOTION_LENGTHS))
    for bad in ("1.0", "-0.1", "x"):
        config.extra.update(no_blur=bad)
        with pytest.raises(TrainingError, match="no_blur"):
            spec.train(TrainConfig(**{**config.__dict__, "out": tmp_path / f"bad{bad}"}))


def _config(out, data, steps, **kw):
    return TrainConfig(out=out, data=data, steps=steps, batch_size=2, checkpoint_every=2, sample_every=1000,
                       seed=3, device="cpu", quiet=True, extra={"part": "kernel-estimator", "width": "8", "schedule_steps": "4"}, **kw)


def test_a_constructions_run_writes_a_six_family_estimator(tmp_path, pixelsmith_tiny_photos):
    spec = pixelsmith.spec("restorer", "deblur")
    config = _config(tmp_path, pixelsmith_tiny_photos, 2)
    config.extra.update(constructions="all")
    path = spec.train(config)
    meta = read_metadata(path)
    assert meta["constructions"] == "all" and '"families": 6' in meta["model_config"]
    assert {"val_line_length_mae", "val_aniso_sigma_mae"} <= set(meta)
    estimator = load_kernel_estimator(path)
    assert estimator.raw(torch.rand(1, 1, 96, 96)).shape == (1, 6 + 3 + 3 + len(MOTION_LENGTHS))
    assert estimator(torch.rand(1, 1, 96, 96))[0].family in ("gaussian", "motion", "none", "line", "anisotropic",
                                                              "shake")
    config.extra.update(constructions="every")
    with pytest.raises(TrainingError, match="constructions"):
        spec.train(TrainConfig(**{**config.__dict__, "out": tmp_path / "bad"}))


def test_larger_shakes_are_drawn_only_when_asked():
    def shakes(**kw):
        draws = [draw_construction(torch.Generator().manual_seed(s), **kw) for s in range(400)]
        return [k for b, k in draws if b["name"] == "shake"]

    default, wide = shakes(), shakes(shake_side=31, shake_path=45)
    assert max(k.shape[-1] for k in default) <= MAX_SHAKE_SIDE < max(k.shape[-1] for k in wide) <= 31
    # omitting the options is drawing with the constants the shipped s18 estimator's run used (25 px, 30 px paths)
    assert all(torch.equal(a, b) for a, b in zip(default, shakes(shake_side=MAX_SHAKE_SIDE, shake_path=30.0)))


def test_a_run_can_start_from_an_estimator_file_of_the_same_shape(tmp_path, pixelsmith_tiny_photos):
    spec = pixelsmith.spec("restorer", "deblur")
    config = _config(tmp_path / "first", pixelsmith_tiny_photos, 2)
    config.extra.update(constructions="all")
    first = spec.train(config)
    # one step at a vanishing learning rate writes its start again (another seed would start elsewhere)
    config = _config(tmp_path / "again", pixelsmith_tiny_photos, 1, lr=1e-12)
    config.extra.update(constructions="all", init=str(first), shake_side="29", shake_path="40")
    again = spec.train(config)
    meta = read_metadata(again)
    assert meta["init"] == str(first) and meta["shake_side"] == "29" and meta["shake_path"] == "40"
    x = torch.rand(1, 1, 96, 96, generator=torch.Generator().manual_seed(2))
    assert torch.allclose(load_kernel_estimator(again).raw(x), load_kernel_estimator(first).raw(x), atol=1e-3)
    config = _config(tmp_path / "fresh", pixelsmith_tiny_photos, 1, lr=1e-12)
    config.extra.update(constructions="all")
    config = TrainConfig(**{**config.__dict__, "seed": 4})
    fresh = load_kernel_estimator(spec.train(config)).raw(x)
    assert not torch.allclose(fresh, load_kernel_estimator(first).raw(x), atol=1e-3)
    for extra, match in (({"init": str(tmp_path / "missing.safetensors")}, "no such file"),
                         ({"init": str(first), "constructions": "training"}, "families"),
                         ({"shake_side": "28"}, "odd"),
                         ({"shake_side": "27", "constructions": "training"}, "constructions=all")):
        config = _config(tmp_path / f"bad{len(match)}", pixelsmith_tiny_photos, 1)
        config.extra.update({"constructions": "all", **extra})
        with pytest.raises(TrainingError, match=match):
            spec.train(config)


def test_trains_resumes_exactly_and_feeds_the_deblurrer(tmp_path, pixelsmith_tiny_photos):
    spec = pixelsmith.spec("restorer", "deblur")
    path = check_resume(spec.train, _config(tmp_path, pixelsmith_tiny_photos, 4)) / "kernel-estimator.safetensors"
    meta = read_metadata(path)
    assert meta["task"] == "kernel-estimation" and "val_family_acc" in meta

    # the network method: the estimator feeds it without another plugin (pnp needs pixelsmith-unet's denoiser)
    # the estimator's own kernels (the default would refine a confident line or search an unsure one)
    r = pixelsmith.restorer("deblur", device="cpu", estimator_weights=path, method="network", kernel_shape="family")
    x = torch.rand(2, 3, 40, 50, generator=torch.Generator().manual_seed(1))
    estimates = r.estimate_kernels(x)
    assert len(estimates) == 2 and all(abs(float(e.kernel.sum()) - 1) < 1e-5 for e in estimates)
    # blind = the network told the estimated kernels
    told = r.restore(x, kernel=[e.kernel for e in estimates])
    assert torch.equal(r.restore(x), told)
    assert not torch.equal(r.restore(x, estimate_kernel=False), told)


def test_bad_part_and_bad_files_are_refused(tmp_path, pixelsmith_tiny_photos):
    spec = pixelsmith.spec("restorer", "deblur")
    bad = TrainConfig(out=tmp_path / "x", data=pixelsmith_tiny_photos, steps=1, quiet=True, extra={"part": "both"})
    with pytest.raises(TrainingError, match="part="):
        spec.train(bad)
    with pytest.raises(WeightsError, match="is not a kernel-estimator weights file"):
        load_kernel_estimator(spec.weights.path)  # the deblurring network's file is not an estimator
    with pytest.raises(InvalidInputError, match="estimate_kernel"):
        pixelsmith.restorer("deblur", device="cpu").restore(torch.rand(1, 1, 8, 8), estimate_kernel="yes")


def test_shipped_estimator_matches_its_sha256():
    f = Deblurrer.estimator_file
    assert sha256_of(f.path) == f.sha256 and f.path.stat().st_size < 2**20 * 4


def test_shipped_constructions_estimator_names_each_construction_of_a_test_photo():
    f = Deblurrer.constructions_estimator_file
    assert sha256_of(f.path) == f.sha256 and f.path.stat().st_size < 2**20 * 4
    deb = pixelsmith.restorer("deblur", device="cpu", estimator="constructions")
    assert deb.reads_constructions and pixelsmith.restorer("deblur", device="cpu").reads_constructions  # the default
    assert not pixelsmith.restorer("deblur", device="cpu", estimator="standard").reads_constructions
    # a candidate file reads as what it holds
    assert not pixelsmith.restorer("deblur", device="cpu", estimator_weights=Deblurrer.estimator_file.path
                                   ).reads_constructions
    clean = test_photos(size=256)["coins"]  # test split: never trained on
    read = lambda blur, **params: deb.estimate_kernels(
        pixelsmith.degradation(blur, noise=0.01, **params).apply(clean, seed=0).image)[0]
    line = read("motion-blur", length=12.5, angle=110.0, kernel_type="line")
    assert line.family == "line" and abs(line.expected_length - 12.5) < 1.5 and abs(line.angle - 110.0) < 5
    aniso = read("anisotropic-blur", sigma_x=2.5, sigma_y=0.7, angle=130.0)
    assert aniso.family == "anisotropic" and abs(aniso.sigma - 2.5) < 0.4 and abs(aniso.sigma_minor - 0.7) < 0.3
    assert abs(aniso.angle - 130.0) < 5
    shake = read("shake-blur", length=20.0)
    assert shake.family == "shake" and shake.runner_up is not None
    assert read("gaussian-blur", sigma=2.0).family == "gaussian"
    with pytest.raises(InvalidInputError, match="estimator must be one of"):
        pixelsmith.restorer("deblur", device="cpu", estimator="six")
    with pytest.raises(InvalidInputError, match="not both"):
        pixelsmith.restorer("deblur", device="cpu", estimator="constructions", estimator_weights=f.path)


@pytest.mark.parametrize("blur,params", [("gaussian-blur", {"sigma": 2.0}),
                                         ("motion-blur", {"length": 9, "angle": 30.0})])
def test_shipped_estimator_finds_the_blur_of_a_test_photo(blur, params):
    clean = test_photos(size=256)["coins"]  # test split: never trained on
    d = pixelsmith.degradation(blur, noise=0.01, **params).apply(clean, seed=0)
    e = pixelsmith.restorer("deblur", device="cpu", estimator="standard").estimate_kernels(d.image)[0]
    if blur == "gaussian-blur":
        assert e.family == "gaussian" and abs(e.sigma - 2.0) < 0.3
    else:
        assert e.family == "motion" and min(abs(e.angle - 30.0), 180 - abs(e.angle - 30.0)) < 10
    # compare kernels, not parameters: Kornia's motion kernels of lengths 9 and 11 coincide at some
    # angles (motion_kernel(9, 30) == motion_kernel(11, 29)), and the deblurring only sees the kernel
    true, found = d.info["kernel"], e.kernel
    size = max(true.shape[-1], found.shape[-1])
    pad = lambda k: torch.nn.functional.pad(k, ((size - k.shape[-1]) // 2,) * 4)
    assert float((pad(true) - pad(found)).abs().sum()) < 0.5  # 2 = disjoint supports
    assert math.isfinite(e.confidence)


def test_four_view_average_turns_with_the_image():
    """The four views of a transposed image are the four views of the image, so the averaged prediction
    must be exactly the image's, with the motion angle θ mapped to 90° − θ (doubled: cos 2θ flips sign)."""
    est = pixelsmith.restorer("deblur", device="cpu").estimator
    clean = test_photos(size=128)["coins"]
    d = pixelsmith.degradation("motion-blur", length=7, angle=20.0, noise=0.01).apply(clean, seed=2).image
    a, b = est.raw(d), est.raw(d.transpose(-2, -1))
    a[:, -2] *= -1
    assert torch.allclose(a, b, atol=1e-4)
    ea, eb = est(d)[0], est(d.transpose(-2, -1))[0]
    assert ea.family == eb.family == "motion"
    assert abs(((ea.angle + eb.angle) % 180.0) - 90.0) < 1e-2


def test_a_sharp_photo_reads_as_not_blurred_and_a_blurred_one_keeps_its_reading():
    """The shipped two-family estimator reads a sharp photograph as its mildest Gaussian; the no-blur detector
    (three families) turns that reading, and only that one, into "none", whose 1×1 kernel is denoised."""
    f = Deblurrer.no_blur_detector_file
    assert sha256_of(f.path) == f.sha256 and '"families": 3' in read_metadata(f.path)["model_config"]
    deb = pixelsmith.restorer("deblur", device="cpu")
    sharp = test_photos(size=128)["camera"]
    blurred = pixelsmith.degradation("gaussian-blur", sigma=2.0, noise=0.01).apply(sharp, seed=0).image
    x = torch.cat([sharp, blurred])
    raw, checked = deb.estimator(x), deb.estimate_kernels(x)
    assert raw[0].family == "gaussian" and raw[0].sigma <= 0.6  # how it reads a sharp image
    assert checked[0].family == "none" and torch.equal(checked[0].kernel, torch.ones(1, 1))
    assert (checked[1].family, checked[1].sigma) == (raw[1].family, raw[1].sigma) and raw[1].sigma > 1.5
    assert torch.equal(deb.blind_kernels(sharp)[0], torch.ones(1, 1))
    off = pixelsmith.restorer("deblur", device="cpu", no_blur_check=False)
    assert off.estimate_kernels(sharp)[0].family == "gaussian"
    with pytest.raises(InvalidInputError, match="no_blur_check"):
        pixelsmith.restorer("deblur", device="cpu", no_blur_check="yes")
