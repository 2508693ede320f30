"""Built-in metrics against independent implementations (scikit-image, pytorch-msssim) on real photos."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import ndimage
from skimage import color, data
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

import pixelsmith
from pixelsmith.errors import InvalidInputError, PixelsmithError
from pixelsmith.metrics import MSE, MSSSIM, PSNR, SSIM, functional

pytorch_msssim = pytest.importorskip("pytorch_msssim")

SKIMAGE_WANG = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0)
TOL = 1e-4


def _photo(name: str, top: int, left: int, size: tuple[int, int]) -> np.ndarray:
    img = getattr(data, name)().astype(np.float64) / 255.0
    return img[top:top + size[0], left:left + size[1]]


def _degrade(img: np.ndarray, kind: str, seed: int) -> np.ndarray:
    """Plausible restoration outputs, made with numpy/scipy so the metric tests do not lean on
    pixelsmith's own degradations."""
    rng = np.random.default_rng(seed)
    if kind == "noise":
        out = img + rng.normal(0, 0.08, img.shape)
    elif kind == "blur":
        sig = (1.5, 1.5, 0) if img.ndim == 3 else 1.5
        out = ndimage.gaussian_filter(img, sig)
    elif kind == "tone":
        out = 0.8 * img + 0.15
    elif kind == "quantise":
        out = np.round(img * 15) / 15
    else:
        raise ValueError(kind)
    return np.clip(out, 0, 1)


def _gray_pairs(size=(64, 72)):
    photos = [_photo("camera", 100, 150, size), _photo("moon", 200, 200, size), _photo("text", 20, 100, size)]
    kinds = ["noise", "blur", "tone", "quantise"]
    pred = [_degrade(p, k, i) for i, (p, k) in enumerate((p, k) for p in photos for k in kinds)]
    target = [p for p in photos for _ in kinds]
    return np.stack(pred), np.stack(target)


def _rgb_pairs(size=(48, 56)):
    photos = [_photo("astronaut", 50, 180, size), _photo("coffee", 150, 200, size), _photo("chelsea", 60, 120, size)]
    kinds = ["noise", "blur", "tone"]
    pred = [_degrade(p, k, i) for i, (p, k) in enumerate((p, k) for p in photos for k in kinds)]
    target = [p for p in photos for _ in kinds]
    return np.stack(pred), np.stack(target)


def _t(batch: np.ndarray) -> torch.Tensor:
    """N×H×W or N×H×W×3 float64 arrays -> N×C×H×W float32 tensors."""
    t = torch.from_numpy(batch).float()
    return t.unsqueeze(1) if t.ndim == 3 else t.permute(0, 3, 1, 2).contiguous()


def _np(t: torch.Tensor) -> np.ndarray:
    """The exact float32 values the tensor holds, as float64 arrays for the reference."""
    arr = t.double().numpy()
    return arr[:, 0] if arr.shape[1] == 1 else arr.transpose(0, 2, 3, 1)


# ---- SSIM ------------------------------------------------------------------------------------


def test_ssim_gray_equals_scikit_image_on_photos():
    pred, target = (_t(a) for a in _gray_pairs())
    ours = functional.ssim(pred, target)
    ref = [structural_similarity(p, t, **SKIMAGE_WANG) for p, t in zip(_np(pred), _np(target))]
    assert ours.shape == (pred.shape[0],)
    np.testing.assert_allclose(ours.double().numpy(), ref, atol=TOL, rtol=0)
    # The pairs span a real range of qualities, so agreement is not agreement on one number.
    assert max(ref) - min(ref) > 0.3


def test_ssim_rgb_equals_scikit_image_channel_mean():
    pred, target = (_t(a) for a in _rgb_pairs())
    ours = SSIM()(pred, target)
    ref = [structural_similarity(p, t, channel_axis=-1, **SKIMAGE_WANG) for p, t in zip(_np(pred), _np(target))]
    np.testing.assert_allclose(ours.double().numpy(), ref, atol=TOL, rtol=0)


def test_ssim_luma_channel_space_equals_scikit_image_on_ycbcr():
    pred, target = (_t(a) for a in _rgb_pairs())
    ours = SSIM(channel_space="y")(pred, target)
    ref = [
        structural_similarity(color.rgb2ycbcr(p)[..., 0] / 255, color.rgb2ycbcr(t)[..., 0] / 255, **SKIMAGE_WANG)
        for p, t in zip(_np(pred), _np(target))
    ]
    np.testing.assert_allclose(ours.double().numpy(), ref, atol=TOL, rtol=0)


def test_ssim_on_float64_input_matches_tightly():
    pred, target = (torch.from_numpy(a).unsqueeze(1) for a in _gray_pairs((40, 40)))
    ours = functional.ssim(pred, target)
    ref = [structural_similarity(p, t, **SKIMAGE_WANG) for p, t in zip(pred[:, 0].numpy(), target[:, 0].numpy())]
    assert ours.dtype == torch.float64
    np.testing.assert_allclose(ours.numpy(), ref, atol=1e-10, rtol=0)


def test_ssim_data_range_scales_the_constants_like_scikit_image():
    pred, target = (_t(a)[:3] for a in _gray_pairs((32, 32)))
    ours = functional.ssim(pred * 255, target * 255, data_range=255.0)
    ref = [structural_similarity(p * 255, t * 255, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                 data_range=255.0) for p, t in zip(_np(pred), _np(target))]
    np.testing.assert_allclose(ours.double().numpy(), ref, atol=TOL, rtol=0)


def test_ssim_is_per_image_and_batch_independent():
    pred, target = (_t(a) for a in _gray_pairs((32, 40)))
    whole = functional.ssim(pred, target)
    singles = torch.cat([functional.ssim(pred[i:i + 1], target[i:i + 1]) for i in range(len(pred))])
    torch.testing.assert_close(whole, singles, atol=1e-6, rtol=0)


def test_ssim_at_the_smallest_size_equals_scikit_image():
    pred, target = (_t(a)[:2] for a in _gray_pairs((11, 11)))
    ref = [structural_similarity(p, t, **SKIMAGE_WANG) for p, t in zip(_np(pred), _np(target))]
    np.testing.assert_allclose(functional.ssim(pred, target).double().numpy(), ref, atol=TOL, rtol=0)


@pytest.mark.parametrize("size", [(1, 1), (10, 40), (40, 7)])
def test_ssim_rejects_images_smaller_than_the_window(size):
    x = torch.rand(1, 1, *size)
    with pytest.raises(InvalidInputError, match=r"at least 11×11.*got"):
        functional.ssim(x, x)
    with pytest.raises(InvalidInputError, match="at least 11×11"):
        SSIM()(x, x)


def test_ssim_gradients_flow_for_use_as_a_loss():
    target = _t(_gray_pairs((24, 24))[1][:2])
    pred = (target * 0.9).requires_grad_(True)
    functional.ssim(pred, target).sum().backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


# ---- MS-SSIM ----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(176, 176), (171, 185)])  # odd sides exercise the padded pooling
def test_ms_ssim_equals_pytorch_msssim_rgb(size):
    photos = [_photo("astronaut", 0, 100, size), _photo("coffee", 100, 150, size)]
    target = _t(np.stack(photos))
    pred = _t(np.stack([_degrade(p, k, 3) for p, k in zip(photos, ["noise", "blur"])]))
    ours = MSSSIM()(pred, target)
    ref = pytorch_msssim.ms_ssim(pred, target, data_range=1, size_average=False)
    torch.testing.assert_close(ours, ref, atol=TOL, rtol=0)


def test_ms_ssim_equals_pytorch_msssim_gray():
    photos = [_photo("camera", 30, 40, (192, 170)), _photo("moon", 100, 100, (192, 170))]
    target = _t(np.stack(photos))
    pred = _t(np.stack([_degrade(p, "noise", i) for i, p in enumerate(photos)]))
    ref = pytorch_msssim.ms_ssim(pred, target, data_range=1, size_average=False)
    torch.testing.assert_close(functional.ms_ssim(pred, target), ref, atol=TOL, rtol=0)


def test_ms_ssim_with_three_scales_equals_pytorch_msssim():
    weights = [0.2, 0.3, 0.5]
    # pytorch-msssim insists on > 160 px whatever the number of scales.
    target = _t(_photo("camera", 0, 0, (176, 176))[None])
    pred = _t(_degrade(_np(target)[0], "blur", 0)[None])
    ref = pytorch_msssim.ms_ssim(pred, target, data_range=1, size_average=False, weights=weights)
    torch.testing.assert_close(functional.ms_ssim(pred, target, weights=weights), ref, atol=TOL, rtol=0)


def test_ms_ssim_rejects_images_of_160_pixels_or_less():
    x = torch.rand(1, 1, 160, 200)
    with pytest.raises(InvalidInputError, match=r"larger than 160 .*160×200"):
        MSSSIM()(x, x)
    with pytest.raises(InvalidInputError, match="larger than 160"):
        functional.ms_ssim(x, x)


# ---- PSNR and MSE -----------------------------------------------------------------------------


def test_psnr_equals_scikit_image_per_image():
    pred, target = (_t(a) for a in _rgb_pairs())
    ours = PSNR()(pred, target)
    ref = [peak_signal_noise_ratio(t, p, data_range=1.0) for p, t in zip(_np(pred), _np(target))]
    np.testing.assert_allclose(ours.double().numpy(), ref, atol=1e-4, rtol=0)


def test_psnr_averages_per_image_not_pooled_mse():
    pred, target = (_t(a) for a in _gray_pairs((32, 32)))
    per_image = functional.psnr(pred, target)
    pooled = 10 * math.log10(1.0 / float(((pred.double() - target.double()) ** 2).mean()))
    assert per_image.shape == (len(pred),)
    assert abs(float(per_image.mean()) - pooled) > 0.1


def test_psnr_of_identical_images_is_inf_and_documented():
    x = _t(_gray_pairs((16, 16))[1][:2])
    assert torch.isinf(functional.psnr(x, x)).all()
    assert PSNR().settings["identical_images"] == "+inf"


def test_psnr_luma_equals_scikit_image_on_ycbcr():
    pred, target = (_t(a) for a in _rgb_pairs((32, 32)))
    ours = functional.psnr(pred, target, channel_space="y")
    ref = [peak_signal_noise_ratio(color.rgb2ycbcr(t)[..., 0] / 255, color.rgb2ycbcr(p)[..., 0] / 255, data_range=1.0)
           for p, t in zip(_np(pred), _np(target))]
    np.testing.assert_allclose(ours.double().numpy(), ref, atol=1e-3, rtol=0)


def test_mse_equals_numpy_per_image():
    pred, target = (_t(a) for a in _rgb_pairs((24, 24)))
    ref = ((_np(pred) - _np(target)) ** 2).reshape(len(pred), -1).mean(axis=1)
    np.testing.assert_allclose(MSE()(pred, target).double().numpy(), ref, rtol=1e-6)


# ---- provenance, registry, inputs -------------------------------------------------------------


def test_ssim_result_carries_its_settings():
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    result = pixelsmith.metric("ssim").evaluate(x, x * 0.5)
    s = result.settings
    assert (s["window_size"], s["sigma"], s["k1"], s["k2"]) == (11, 1.5, 0.01, 0.03)
    assert (s["data_range"], s["channel_space"], s["covariance"]) == (1.0, "rgb", "population")
    assert s["metric"] == "ssim" and result.higher_is_better and result.values.shape == (2,)


@pytest.mark.parametrize("name, cls, higher", [("mse", MSE, False), ("psnr", PSNR, True),
                                               ("ssim", SSIM, True), ("ms-ssim", MSSSIM, True)])
def test_builtin_metrics_are_registered(name, cls, higher):
    metric = pixelsmith.metric(name)
    assert isinstance(metric, cls)
    assert pixelsmith.spec("metric", name).higher_is_better is higher
    assert metric.higher_is_better is higher


def test_metric_module_accepts_uint8_arrays_like_the_rest_of_pixelsmith():
    img = data.camera()[:32, :32]
    ref = structural_similarity(img / 255.0, img[::-1] / 255.0, **SKIMAGE_WANG)
    assert abs(float(SSIM()(img, img[::-1].copy())[0]) - ref) < TOL


@pytest.mark.parametrize(
    "pred, target, match",
    [
        (torch.rand(16, 16), torch.rand(16, 16), r"B×C×H×W.*\(16, 16\)"),
        (torch.rand(1, 2, 16, 16), torch.rand(1, 2, 16, 16), r"C in \(1, 3\).*\(1, 2, 16, 16\)"),
        (torch.rand(1, 1, 16, 16), torch.rand(1, 1, 16, 17), r"same shape.*\(1, 1, 16, 17\)"),
        (torch.full((1, 1, 16, 16), float("nan")), torch.rand(1, 1, 16, 16), "NaN"),
        (torch.rand(1, 1, 16, 16) * 2, torch.rand(1, 1, 16, 16), r"\[0, data_range=1\]"),
        (torch.zeros(1, 1, 16, 16, dtype=torch.int32), torch.zeros(1, 1, 16, 16, dtype=torch.int32), "dtype"),
        (np.zeros((1, 1, 16, 16)), np.zeros((1, 1, 16, 16)), "torch.Tensor"),
    ],
)
@pytest.mark.parametrize("fn", [functional.ssim, functional.psnr])
def test_functional_bad_input_raises_saying_what(fn, pred, target, match):
    with pytest.raises(InvalidInputError, match=match):
        fn(pred, target)


@pytest.mark.parametrize("kwargs, match", [({"data_range": 0}, "data_range"), ({"data_range": float("nan")}, "data_range"),
                                           ({"channel_space": "lab"}, "channel_space"),
                                           ({"window_size": 8}, "window_size"), ({"sigma": -1}, "sigma")])
def test_bad_options_raise(kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        SSIM(**kwargs)


def test_module_rejects_mismatched_and_nan_inputs():
    with pytest.raises(InvalidInputError, match="same shape"):
        PSNR()(torch.rand(2, 1, 8, 8), torch.rand(1, 1, 8, 8))
    with pytest.raises(InvalidInputError, match="NaN"):
        MSE()(torch.full((1, 1, 8, 8), float("inf")), torch.rand(1, 1, 8, 8))


_DTYPES = [torch.float32, torch.float64, torch.float16, torch.uint8, torch.int64, torch.bool]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    b=st.integers(1, 3), c=st.sampled_from([1, 2, 3, 4]), h=st.integers(1, 24), w=st.integers(1, 24),
    dtype=st.sampled_from(_DTYPES), name=st.sampled_from(["mse", "psnr", "ssim"]),
    poison=st.sampled_from([None, "nan", "big", "neg"]), mismatch=st.booleans(), seed=st.integers(0, 1000),
)
def test_metric_inputs_property(b, c, h, w, dtype, name, poison, mismatch, seed):
    gen = torch.Generator().manual_seed(seed)
    base = torch.rand(b, c, h, w, generator=gen, dtype=torch.float64)
    pred = base.clone()
    if poison == "nan":
        pred[0, 0, 0, 0] = float("nan")
    elif poison == "big":
        pred[0, 0, 0, 0] = 3.0
    elif poison == "neg":
        pred[0, 0, 0, 0] = -0.5
    target = torch.rand(b, c, h + int(mismatch), w, generator=gen, dtype=torch.float64)
    if dtype == torch.uint8:
        pred, target = (pred.clamp(0, 1) * 255).to(dtype), (target * 255).to(dtype)
    elif dtype in (torch.int64, torch.bool):
        pred, target = pred.clamp(0, 1).round().to(dtype), target.round().to(dtype)
    else:
        pred, target = pred.to(dtype), target.to(dtype)
    for metric in (pixelsmith.metric(name), getattr(functional, name)):
        try:
            out = metric(pred, target)
        except PixelsmithError:
            continue
        # Anything accepted must be a well-formed per-image result ...
        assert out.shape == (b,) and out.dtype in (torch.float32, torch.float64)
        assert not torch.isnan(out).any()
        # ... and only from input that is valid.
        assert c in (1, 3) and not mismatch
