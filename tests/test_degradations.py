"""Built-in degradations: seeded reproducibility, statistics, kernels against scipy, bad parameters."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import ndimage
from skimage import data

import pixelsmith
from pixelsmith.degradations import (
    GaussianBlur,
    GaussianNoise,
    InpaintingMask,
    MotionBlur,
    PoissonNoise,
    SaltAndPepper,
    gaussian_kernel,
    motion_kernel,
)
from pixelsmith.errors import InvalidInputError, PixelsmithError

ALL = ["gaussian-noise", "poisson-noise", "salt-and-pepper", "gaussian-blur", "motion-blur", "inpainting-mask"]
# Degradations whose output depends on the seed with their default parameters.
RANDOM = ["gaussian-noise", "poisson-noise", "salt-and-pepper", "inpainting-mask"]


@pytest.fixture(scope="module")
def photos() -> torch.Tensor:
    """Two real 48×48 RGB crops (astronaut, coffee) as a batch."""
    crops = [data.astronaut()[100:148, 200:248], data.coffee()[150:198, 250:298]]
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() / 255


def test_all_builtin_degradations_are_registered():
    assert set(ALL) <= set(pixelsmith.list_components("degradation"))
    tasks = {name: pixelsmith.spec("degradation", name).task for name in ALL}
    assert tasks == {"gaussian-noise": "denoise", "poisson-noise": "poisson", "salt-and-pepper": "impulse",
                     "gaussian-blur": "deblur", "motion-blur": "deblur", "inpainting-mask": "inpaint"}


@pytest.mark.parametrize("name", ALL)
def test_same_seed_same_bytes_and_global_rng_untouched(name, photos):
    d = pixelsmith.degradation(name, **({"noise": 0.02} if "blur" in name else {}))
    torch_state = torch.get_rng_state()
    np_state = np.random.get_state()[1].copy()
    a = d.apply(photos, seed=7)
    d(photos, seed=8)
    d(photos)  # an unseeded call draws from the OS, not from the global RNG either
    assert torch.equal(torch_state, torch.get_rng_state())
    assert np.array_equal(np_state, np.random.get_state()[1])
    torch.manual_seed(123)  # whatever the global RNG does in between must not matter
    b = d.apply(photos, seed=7)
    assert torch.equal(a.image, b.image)
    assert a.image.shape == photos.shape and a.image.dtype == torch.float32
    assert 0 <= float(a.image.min()) and float(a.image.max()) <= 1


@pytest.mark.parametrize("name", RANDOM + ["gaussian-blur", "motion-blur"])
def test_different_seeds_differ(name, photos):
    d = pixelsmith.degradation(name, **({"noise": 0.02} if "blur" in name else {}))
    assert not torch.equal(d(photos, seed=1), d(photos, seed=2))


def test_a_passed_generator_is_used_and_advanced(photos):
    d = GaussianNoise(0.1)
    gen = torch.Generator().manual_seed(5)
    first, second = d(photos, seed=gen), d(photos, seed=gen)
    assert not torch.equal(first, second)
    assert torch.equal(first, d(photos, seed=torch.Generator().manual_seed(5)))


def test_gaussian_noise_std_matches_sigma_on_mid_gray():
    sigma = 0.05
    x = torch.full((4, 1, 64, 64), 0.5)
    y = GaussianNoise(sigma)(x, seed=0)
    noise = (y - x).flatten()
    # 0.5 ± 10σ never reaches the clip, so the whole image is the unclipped interior.
    assert abs(float(noise.std()) - sigma) < 0.03 * sigma
    assert abs(float(noise.mean())) < 4 * sigma / math.sqrt(noise.numel())


def test_poisson_noise_mean_and_variance_follow_peak():
    peak, level = 20.0, 0.4
    x = torch.full((4, 1, 64, 64), level)
    y = PoissonNoise(peak)(x, seed=0).double()
    assert abs(float(y.mean()) - level) < 0.01
    assert abs(float(y.var()) - level / peak) < 0.1 * level / peak
    # Values are photon counts over peak.
    counts = y * peak
    assert torch.allclose(counts, counts.round(), atol=1e-4)


def test_salt_and_pepper_fraction_and_mask(photos):
    out = SaltAndPepper(amount=0.2, salt_vs_pepper=0.7).apply(photos, seed=3)
    mask = out.info["mask"].bool()
    assert mask.shape == (2, 1, 48, 48)
    assert abs(float(mask.float().mean()) - 0.2) < 0.03
    hit = out.image.permute(1, 0, 2, 3)[:, mask[:, 0]]
    assert set(torch.unique(hit).tolist()) <= {0.0, 1.0}
    assert abs(float((hit[0] == 1).float().mean()) - 0.7) < 0.07
    untouched = ~mask.expand_as(photos)
    assert torch.equal(out.image[untouched], photos[untouched])


def test_gaussian_blur_equals_scipy_with_mirror_border(photos):
    sigma = 1.3
    out = GaussianBlur(sigma=sigma).apply(photos, seed=0)
    k = out.info["kernel"]
    radius = k.shape[-1] // 2
    assert k.shape == (9, 9)  # ceil(6·1.3) = 8 -> odd 9
    for img, blurred in zip(photos.double().numpy(), out.image.double().numpy()):
        # kornia's 'reflect' border is scipy's 'mirror'; truncate selects the same radius.
        ref = ndimage.gaussian_filter(img, (0, sigma, sigma), mode="mirror", truncate=radius / sigma)
        np.testing.assert_allclose(blurred, ref, atol=2e-6)


def test_motion_blur_equals_scipy_correlation_with_its_kernel(photos):
    out = MotionBlur(length=7, angle=30.0).apply(photos, seed=0)
    k = out.info["kernel"].double().numpy()
    assert abs(k.sum() - 1) < 1e-6 and k.max() < 0.5  # spread along a line, not an identity
    for img, blurred in zip(photos.double().numpy(), out.image.double().numpy()):
        ref = np.stack([ndimage.correlate(ch, k, mode="mirror") for ch in img])
        np.testing.assert_allclose(blurred, ref, atol=2e-6)


def test_blur_noise_is_added_after_the_blur():
    x = torch.full((2, 1, 64, 64), 0.5)  # blur leaves a constant image unchanged
    out = GaussianBlur(sigma=2.0, noise=0.04).apply(x, seed=0)
    assert abs(float((out.image - x).std()) - 0.04) < 0.003
    assert out.info["noise"] == 0.04 and out.info["sigma"] == 2.0


def test_kernel_helpers():
    k = gaussian_kernel(1.0)
    assert k.shape == (7, 7)
    g = np.exp(-np.arange(-3, 4) ** 2 / 2.0)
    g /= g.sum()
    np.testing.assert_allclose(k.double().numpy(), np.outer(g, g), atol=1e-7)
    assert gaussian_kernel(1.6).shape == (11, 11)
    assert gaussian_kernel(1.0, 5).shape == (5, 5)
    horizontal = motion_kernel(5, 0.0)
    np.testing.assert_allclose(horizontal.numpy()[2], np.full(5, 0.2), atol=1e-6)
    assert float(horizontal.sum()) == pytest.approx(1.0)


@pytest.mark.parametrize("mode", ["strokes", "boxes"])
def test_inpainting_mask_covers_the_asked_fraction(mode, photos):
    out = InpaintingMask(mode=mode, coverage=0.3, fill=0.0).apply(photos, seed=4)
    observed = out.info["mask"]
    assert observed.shape == (2, 1, 48, 48) and set(torch.unique(observed).tolist()) <= {0.0, 1.0}
    hidden = 1 - observed.flatten(1).mean(1)
    assert ((hidden >= 0.3) & (hidden < 0.75)).all()
    torch.testing.assert_close(out.info["hidden_fraction"], hidden)
    holes = (observed == 0).expand_as(photos)
    assert (out.image[holes] == 0).all()
    assert torch.equal(out.image[~holes], photos[~holes])
    # Each image of the batch gets its own mask.
    assert not torch.equal(observed[0], observed[1])


def test_info_exposes_what_was_done(photos):
    assert GaussianNoise(0.1).apply(photos, seed=0).info["sigma"] == 0.1
    info = pixelsmith.degradation("motion-blur", length=9, angle=45).apply(photos, seed=0).info
    assert info["degradation"] == "motion-blur" and info["kernel"].shape == (9, 9) and info["angle"] == 45.0


@pytest.mark.parametrize(
    "factory, kwargs, match",
    [
        (GaussianNoise, {"sigma": -0.1}, r"sigma must lie in \[0, inf\], got -0.1"),
        (GaussianNoise, {"sigma": float("nan")}, "sigma must be a finite number"),
        (PoissonNoise, {"peak": 0}, r"peak must lie in \(0, inf\]"),
        (SaltAndPepper, {"amount": 1.5}, r"amount must lie in \[0, 1\], got 1.5"),
        (SaltAndPepper, {"salt_vs_pepper": -1}, "salt_vs_pepper"),
        (GaussianBlur, {"sigma": 0}, "sigma"),
        (GaussianBlur, {"sigma": 1.0, "kernel_size": 4}, "kernel_size must be an odd int"),
        (GaussianBlur, {"border": "wrap"}, "border must be one of"),
        (MotionBlur, {"length": 4}, "length must be an odd int"),
        (MotionBlur, {"direction": 2}, "direction"),
        (InpaintingMask, {"mode": "circles"}, "mode must be one of"),
        (InpaintingMask, {"coverage": 0.95}, "coverage"),
        (GaussianNoise, {"sigma": True}, "finite number"),
    ],
)
def test_bad_parameters_raise_saying_what(factory, kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        factory(**kwargs)


def test_unknown_parameter_is_a_pixelsmith_error():
    with pytest.raises(PixelsmithError, match="sigmaa"):
        pixelsmith.degradation("gaussian-noise", sigmaa=0.1)


def test_kernel_larger_than_image_with_reflect_border_says_what_to_do():
    with pytest.raises(InvalidInputError, match="border='replicate'"):
        GaussianBlur(sigma=3.0)(torch.rand(1, 1, 8, 8), seed=0)
    assert GaussianBlur(sigma=3.0, border="replicate")(torch.rand(1, 1, 8, 8), seed=0).shape == (1, 1, 8, 8)


@pytest.mark.parametrize("bad, match", [(torch.rand(8, 8), "B×C×H×W"), (torch.rand(1, 2, 8, 8), "C in"),
                                        (torch.full((1, 1, 8, 8), float("nan")), "NaN"),
                                        (torch.full((1, 1, 8, 8), 2.0), r"\[0, 1\]")])
def test_bad_images_raise(bad, match):
    with pytest.raises(InvalidInputError, match=match):
        GaussianNoise(0.1)(bad, seed=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", ALL)
def test_same_bytes_on_cuda_and_cpu(name, photos):
    d = pixelsmith.degradation(name)
    cpu = d(photos, seed=3)
    gpu = d(photos.cuda(), seed=3)
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-5, rtol=0)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(ALL), b=st.integers(1, 2), c=st.sampled_from([1, 2, 3, 4]), h=st.integers(1, 20),
    w=st.integers(1, 20), dtype=st.sampled_from([torch.float32, torch.float64, torch.float16, torch.uint8, torch.int32]),
    poison=st.sampled_from([None, "nan", "big"]), seed=st.integers(0, 2**32),
)
def test_degradation_inputs_property(name, b, c, h, w, dtype, poison, seed):
    x = torch.rand(b, c, h, w, generator=torch.Generator().manual_seed(seed % 1000), dtype=torch.float64)
    if dtype.is_floating_point:
        if poison == "nan":
            x[0, 0, 0, 0] = float("nan")
        elif poison == "big":
            x[0, 0, 0, 0] = 2.0
        x = x.to(dtype)
    else:
        poison = None  # integer images cannot hold NaN; their range is the dtype's
        x = (x * 255).to(dtype)
    d = pixelsmith.degradation(name)
    try:
        out = d(x, seed=seed)
    except PixelsmithError:
        return
    assert out.shape == (b, 3 if c == 4 else c, h, w) and out.dtype == torch.float32
    assert bool(torch.isfinite(out).all()) and 0 <= float(out.min()) and float(out.max()) <= 1
    assert c in (1, 3, 4) and poison is None
