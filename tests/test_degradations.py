"""Built-in degradations: seeded reproducibility, statistics, kernels against scipy, bad parameters."""

from __future__ import annotations

import functools
import math
import resource
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import ndimage
from skimage import data

import pixelsmith
from pixelsmith.degradations import (
    MAX_KERNEL_SIZE,
    AnisotropicBlur,
    GaussianBlur,
    GaussianNoise,
    InpaintingMask,
    MotionBlur,
    PoissonNoise,
    SaltAndPepper,
    ShakeBlur,
    anisotropic_gaussian_kernel,
    blur_with_kernel,
    gaussian_kernel,
    line_kernel,
    motion_kernel,
    shake_kernel,
)
from pixelsmith.degradations.kernels import kernel_moments, path_kernel, shake_trajectory
from pixelsmith.errors import InvalidInputError, PixelsmithError

ALL = ["gaussian-noise", "poisson-noise", "salt-and-pepper", "gaussian-blur", "motion-blur", "inpainting-mask",
       "anisotropic-blur", "shake-blur"]
# Degradations whose output depends on the seed with their default parameters.
RANDOM = ["gaussian-noise", "poisson-noise", "salt-and-pepper", "inpainting-mask", "shake-blur"]


@pytest.fixture(scope="module")
def photos() -> torch.Tensor:
    """Two real 48×48 RGB crops (astronaut, coffee) as a batch."""
    crops = [data.astronaut()[100:148, 200:248], data.coffee()[150:198, 250:298]]
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() / 255


def test_all_builtin_degradations_are_registered():
    assert set(ALL) <= set(pixelsmith.list_components("degradation"))
    tasks = {name: pixelsmith.spec("degradation", name).task for name in ALL}
    assert tasks == {"gaussian-noise": "denoise", "poisson-noise": "poisson", "salt-and-pepper": "impulse",
                     "gaussian-blur": "deblur", "motion-blur": "deblur", "inpainting-mask": "inpaint",
                     "anisotropic-blur": "deblur", "shake-blur": "deblur"}


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


@pytest.mark.parametrize("name", RANDOM + ["gaussian-blur", "motion-blur", "anisotropic-blur"])
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
        (GaussianNoise, {"sigma": -0.1}, r"sigma must lie in \[0, 10\], got -0.1"),
        (GaussianNoise, {"sigma": float("nan")}, "sigma must be a finite number"),
        (PoissonNoise, {"peak": 0}, r"peak must lie in \(0, 1e\+09\]"),
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
        (GaussianBlur, {"sigma": 1.0, "kernel_size": 23}, r"kernel_size must be an odd int in \[3, 21\], got 23"),
        (GaussianBlur, {"noise": 2.0}, r"noise must lie in \[0, 1\], got 2.0"),
        (MotionBlur, {"angle": 1e9}, r"angle must lie in \[-360, 360\], got 1000000000.0"),
        (MotionBlur, {"kernel_type": "curve"}, "kernel_type must be one of"),
        (MotionBlur, {"kernel_type": "line", "length": 0.5}, r"length must lie in \[1, 1024\], got 0.5"),
        (AnisotropicBlur, {"sigma_y": 0}, r"sigma_y must lie in \(0, 170.667\], got 0"),
        (AnisotropicBlur, {"sigma_x": 2.0, "kernel_size": 101}, r"kernel_size must be an odd int in \[3, 41\]"),
        (ShakeBlur, {"anxiety": 1.5}, r"anxiety must lie in \[0, 1\], got 1.5"),
        (ShakeBlur, {"length": 1e6}, r"length must lie in \[1, 512\], got 1000000.0"),
        (PoissonNoise, {"peak": 1e300}, r"peak must lie in \(0, 1e\+09\], got 1e\+300"),
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


# -- kernel families --------------------------------------------------------------------------------------

def _splat_reference(points: np.ndarray, half: int, n: int = 200_000) -> np.ndarray:
    """Dense bilinear splatting of n evenly spaced points of a polyline: an independent, sampled rasteriser."""
    seg = points[1:] - points[:-1]
    lengths = np.linalg.norm(seg, axis=1)
    cum = np.concatenate([[0.0], np.cumsum(lengths)])
    s = (np.arange(n) + 0.5) / n * cum[-1]
    i = np.clip(np.searchsorted(cum, s, side="right") - 1, 0, len(seg) - 1)
    p = points[i] + ((s - cum[i]) / lengths[i])[:, None] * seg[i]
    k = np.zeros((2 * half + 1, 2 * half + 1))
    x0, y0 = np.floor(p[:, 0]), np.floor(p[:, 1])
    fx, fy = p[:, 0] - x0, p[:, 1] - y0
    for dx, dy, w in [(0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)]:
        np.add.at(k, ((y0 + dy + half).astype(int), (x0 + dx + half).astype(int)), w)
    return k / k.sum()


@pytest.mark.parametrize("length, angle", [(7.3, 12.5), (15.0, 37.0), (22.2, 141.0), (9.0, 90.0)])
def test_line_kernel_second_moments_follow_length_and_angle(length, angle):
    k = line_kernel(length, angle)
    assert k.dtype == torch.float32 and k.shape[0] == k.shape[1] and k.shape[0] % 2 == 1
    assert float(k.sum()) == pytest.approx(1.0, abs=1e-6)
    mean, cov = kernel_moments(k)
    assert mean.abs().max() < 1e-5  # centred
    th = math.radians(angle)
    u = np.array([math.cos(th), -math.sin(th)])  # counter-clockwise on screen, y pointing down
    line_cov = length ** 2 / 12 * np.outer(u, u)
    # bilinear splatting keeps E[xy] exactly and adds at most 1/4 px² of spread along each axis
    assert float(cov[0, 1]) == pytest.approx(line_cov[0, 1], abs=1e-4)
    for axis in (0, 1):
        extra = float(cov[axis, axis]) - line_cov[axis, axis]
        assert -1e-4 <= extra <= 0.25 + 1e-4


@pytest.mark.parametrize("length, angle, direction", [(7.3, 12.5, 0.0), (12.0, 200.0, 0.6)])
def test_line_kernel_equals_dense_bilinear_splatting(length, angle, direction):
    k = line_kernel(length, angle, direction).double().numpy()
    th = math.radians(angle)
    u = np.array([math.cos(th), -math.sin(th)]) * length / 2
    if direction == 0:
        ref = _splat_reference(np.stack([-u, u]), k.shape[0] // 2)
    else:  # density 1 - direction·s: approximate it by many short pieces of constant weight
        n = 400
        ts = np.linspace(-1, 1, n + 1)
        ref = sum((1 - direction * (a + b) / 2) * _splat_reference(np.stack([a * u, b * u]), k.shape[0] // 2, 2000)
                  for a, b in zip(ts[:-1], ts[1:]))
        ref /= ref.sum()
    np.testing.assert_allclose(k, ref, atol=2e-5)


def test_line_kernel_is_continuous_where_kornias_is_not():
    # Kornia's kernel stands still between these angles and lengths; the line kernel moves a little
    assert torch.equal(motion_kernel(9, 30.0), motion_kernel(9, 29.0))
    assert torch.equal(motion_kernel(9, 30.0), motion_kernel(11, 29.0)[1:-1, 1:-1])
    step = float((line_kernel(9, 30.0) - line_kernel(9, 29.0)).abs().sum())
    assert 0.01 < step < 0.2
    tiny = float((line_kernel(9, 30.0) - line_kernel(9, 30.01)).abs().sum())
    assert 0 < tiny < 1e-3
    assert not torch.equal(line_kernel(9, 30.0), line_kernel(9.5, 30.0))


@pytest.mark.parametrize("length, angle", [(9.0, 0.0), (8.2, 33.0), (13.0, 117.0)])
def test_line_kernel_is_point_symmetric_and_direction_skews_it(length, angle):
    k = line_kernel(length, angle)
    torch.testing.assert_close(k, torch.flip(k, (0, 1)), atol=1e-7, rtol=0)
    skewed = line_kernel(length, angle, direction=0.8)
    mean, _ = kernel_moments(skewed)
    th = math.radians(angle)
    # more weight where the path starts (at -u), the sense of Kornia's direction
    assert float(mean[0] * math.cos(th) - mean[1] * math.sin(th)) < -0.1
    k_mean, _ = kernel_moments(motion_kernel(9, 0.0, 0.8))
    assert float(k_mean[0]) < 0


def test_path_kernel_checks_and_centring():
    k = path_kernel(torch.tensor([[0.0, 0.0], [3.0, 0.0], [3.0, 2.0]]), center=True)
    mean, _ = kernel_moments(k)
    assert mean.abs().max() < 1e-5
    with pytest.raises(InvalidInputError, match="zero length"):
        path_kernel(torch.zeros(3, 2))
    with pytest.raises(InvalidInputError, match="N×2"):
        path_kernel(torch.zeros(3))
    with pytest.raises(InvalidInputError, match="at least 9"):
        path_kernel(torch.tensor([[-4.0, 0.0], [4.0, 0.0]]), size=5)


@pytest.mark.parametrize("sx, sy, angle", [(3.0, 1.0, 30.0), (1.5, 2.5, -70.0)])
def test_anisotropic_gaussian_covariance_and_symmetry(sx, sy, angle):
    k = anisotropic_gaussian_kernel(sx, sy, angle, size=41)  # ±5σ wide: truncation is negligible
    assert float(k.sum()) == pytest.approx(1.0, abs=1e-6)
    torch.testing.assert_close(k, torch.flip(k, (0, 1)), atol=1e-8, rtol=0)
    th = math.radians(angle)
    r = np.array([[math.cos(th), math.sin(th)], [-math.sin(th), math.cos(th)]])
    expected = r @ np.diag([sx ** 2, sy ** 2]) @ r.T
    _, cov = kernel_moments(k)
    np.testing.assert_allclose(cov.numpy(), expected, atol=2e-3 * max(sx, sy) ** 2)
    side = math.ceil(6 * max(sx, sy))
    assert anisotropic_gaussian_kernel(sx, sy, angle).shape[0] == side + (side % 2 == 0)


def test_anisotropic_gaussian_with_equal_widths_is_the_isotropic_one():
    torch.testing.assert_close(anisotropic_gaussian_kernel(2.0, 2.0, 40.0), gaussian_kernel(2.0), atol=1e-7, rtol=0)
    # and a 90° turn swaps the axes
    torch.testing.assert_close(anisotropic_gaussian_kernel(3.0, 1.0, 90.0), anisotropic_gaussian_kernel(1.0, 3.0),
                               atol=1e-7, rtol=0)


def test_shake_kernels_are_seeded_centred_and_as_long_as_asked():
    a = shake_kernel(20.0, torch.Generator().manual_seed(5))
    b = shake_kernel(20.0, torch.Generator().manual_seed(5))
    c = shake_kernel(20.0, torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not (a.shape == c.shape and torch.equal(a, c))
    assert float(a.sum()) == pytest.approx(1.0, abs=1e-6) and a.shape[0] % 2 == 1 and float(a.min()) >= 0
    mean, _ = kernel_moments(a)
    assert mean.abs().max() < 1e-5  # centre of mass on the centre pixel: no net shift of the image
    path = shake_trajectory(20.0, torch.Generator().manual_seed(5))
    assert float((path[1:] - path[:-1]).norm(dim=1).sum()) == pytest.approx(20.0, rel=1e-9)
    assert a.shape[0] <= 2 * math.ceil(20.0) + 1


def test_shake_without_anxiety_is_a_straight_line():
    path = shake_trajectory(12.0, torch.Generator().manual_seed(0), anxiety=0.0)
    direction = path[-1] - path[0]
    assert float(direction.norm()) == pytest.approx(12.0, rel=1e-9)
    k = shake_kernel(12.0, torch.Generator().manual_seed(0), anxiety=0.0)
    _, cov = kernel_moments(k)
    ev = torch.linalg.eigvalsh(cov)
    assert float(ev[1] - ev[0]) == pytest.approx(12.0 ** 2 / 12, abs=0.3)


def test_new_blurs_apply_the_kernel_they_report(photos):
    for d in (MotionBlur(length=7.5, angle=33.0, kernel_type="line"), AnisotropicBlur(2.0, 0.7, 20.0),
              ShakeBlur(length=10.0)):
        out = d.apply(photos, seed=3)
        k = out.info["kernel"].double().numpy()
        assert abs(k.sum() - 1) < 1e-6
        for img, blurred in zip(photos.double().numpy(), out.image.double().numpy()):
            ref = np.stack([ndimage.correlate(ch, k, mode="mirror") for ch in img])
            np.testing.assert_allclose(blurred, ref, atol=2e-6)
    line = pixelsmith.degradation("motion-blur", length=7.5, angle=33.0, kernel_type="line")
    torch.testing.assert_close(line.apply(photos, seed=0).info["kernel"], line_kernel(7.5, 33.0))
    assert line.params["kernel_type"] == "line" and pixelsmith.degradation("motion-blur").params["kernel_type"] == "kornia"


def test_shake_blur_draws_its_kernel_from_the_seed(photos):
    d = ShakeBlur(length=12.0)
    k1, k2 = d.apply(photos, seed=1).info["kernel"], d.apply(photos, seed=2).info["kernel"]
    assert torch.equal(k1, d.apply(photos, seed=1).info["kernel"])
    assert not (k1.shape == k2.shape and torch.equal(k1, k2))
    assert torch.equal(k1, shake_kernel(12.0, torch.Generator().manual_seed(1)))  # the kernel is the first draw


def test_large_kernels_blur_through_the_fft_like_scipy():
    x = torch.rand(1, 1, 70, 74, generator=torch.Generator().manual_seed(0))
    k = anisotropic_gaussian_kernel(11.0, 4.0, 25.0)  # 67×67: past the direct-correlation limit
    assert k.shape[0] > 64
    for border, mode in (("reflect", "mirror"), ("replicate", "nearest"), ("constant", "constant")):
        out = blur_with_kernel(x, k, border).double().numpy()
        ref = ndimage.correlate(x[0, 0].double().numpy(), k.double().numpy(), mode=mode, cval=0.0)
        np.testing.assert_allclose(out[0, 0], ref, atol=2e-6)
    with pytest.raises(InvalidInputError, match="larger than 33"):
        blur_with_kernel(x[..., :33, :], k, "reflect")
    line = line_kernel(66.0, 10.0)
    assert line.shape[0] > 64
    ref = ndimage.correlate(x[0, 0].double().numpy(), line.double().numpy(), mode="mirror")
    np.testing.assert_allclose(blur_with_kernel(x, line).double().numpy()[0, 0], ref, atol=2e-6)


# -- parameters refused before anything is allocated (issue 12, item 3) -------------------------------------

ISSUE_CASES = [
    ("gaussian-blur", {"sigma": 1e9}, "sigma", "1000000000.0", "(0, 170.667]"),
    ("gaussian-blur", {"sigma": 1e5}, "sigma", "100000.0", "(0, 170.667]"),
    ("gaussian-blur", {"kernel_size": 200001}, "kernel_size", "200001", "[3, 33]"),
    ("motion-blur", {"length": 100001}, "length", "100001", f"[3, {MAX_KERNEL_SIZE}]"),
    ("motion-blur", {"length": 100001, "kernel_type": "line"}, "length", "100001", "[1, 1024]"),
    ("anisotropic-blur", {"sigma_x": 1e9}, "sigma_x", "1000000000.0", "(0, 170.667]"),
    ("shake-blur", {"length": 1e7}, "length", "10000000.0", "[1, 512]"),
]
# the CLI's spelling of the same cases
CLI_CASES = [("gaussian-blur", "sigma=1e9", "sigma"), ("gaussian-blur", "sigma=1e5", "sigma"),
             ("gaussian-blur", "kernel_size=200001", "kernel_size"), ("motion-blur", "length=100001", "length")]
_HEADROOM = 2 << 30  # address space above what importing pixelsmith takes: a 24 GB kernel cannot fit in it


@functools.lru_cache(maxsize=None)
def _cap() -> int:
    """The children's address-space cap: their own import of pixelsmith plus :data:`_HEADROOM`. A fixed cap
    does not fit every torch build: a CPU build maps about 0.6 GiB, a CUDA build several GiB of libraries (a
    fixed 2 GiB cap failed there with "libtorch_cpu.so: failed to map segment", on an H200 machine)."""
    probe = "import re, pixelsmith; print(re.search(r'VmPeak:\\s+(\\d+) kB', open('/proc/self/status').read())[1])"
    try:
        proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300,
                              env=_child_env(), check=True)
        return int(proc.stdout) * 1024 + _HEADROOM
    except (subprocess.CalledProcessError, ValueError):  # no /proc (not Linux): the CPU build's footprint
        return _HEADROOM


def _capped():
    """A ``preexec_fn`` setting the cap (measured here, in the parent: a child between fork and exec must not
    start processes of its own)."""
    cap = _cap()
    return lambda: resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


@pytest.mark.parametrize("name, params, param, value, interval", ISSUE_CASES)
def test_huge_parameters_are_one_clear_error(name, params, param, value, interval):
    with pytest.raises(InvalidInputError) as err:
        pixelsmith.degradation(name, **params)
    message = str(err.value)
    assert "\n" not in message and param in message and value in message and interval in message


def test_huge_parameters_are_refused_under_a_memory_cap():
    # the same calls in a child whose address space is capped: a kernel built before the check
    # would fail there with a MemoryError (or be killed), not with the InvalidInputError asked for
    script = textwrap.dedent(f"""
        import pixelsmith
        for name, params, *_ in {ISSUE_CASES!r}:
            try:
                pixelsmith.degradation(name, **params)
            except pixelsmith.InvalidInputError as exc:
                print("refused", name, exc)
            else:
                print("accepted", name, params)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, preexec_fn=_capped(),
                          timeout=300, env={**_child_env()})
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert len(lines) == len(ISSUE_CASES) and all(line.startswith("refused") for line in lines), proc.stdout


def _child_env() -> dict:
    import os

    return {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}


@pytest.fixture(scope="module")
def tiny_png(tmp_path_factory):
    import imageio.v3 as iio

    path = tmp_path_factory.mktemp("degrade") / "in.png"
    iio.imwrite(path, (np.random.default_rng(0).random((32, 32)) * 255).astype(np.uint8))
    return path


@pytest.mark.parametrize("name, param, key", CLI_CASES)
def test_cli_degrade_refuses_huge_parameters_in_one_line(name, param, key, tiny_png, tmp_path):
    out = tmp_path / "out.png"
    proc = subprocess.run([sys.executable, "-m", "pixelsmith", "degrade", name, str(tiny_png), "-o", str(out), param],
                          capture_output=True, text=True, preexec_fn=_capped(), timeout=300, env=_child_env())
    assert proc.returncode == 2, proc.stderr[-2000:]
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in proc.stderr and key in err[0], proc.stderr
    assert not out.exists()


@pytest.mark.parametrize("name, params", [("anisotropic-blur", {}), ("shake-blur", {"noise": 0.01}),
                                          ("motion-blur", {"kernel_type": "line", "length": 6.5, "angle": 20.0})])
def test_new_blurs_pass_the_conformance_kit(name, params):
    from pixelsmith.testing import check_degradation

    check_degradation(name, params=params)
