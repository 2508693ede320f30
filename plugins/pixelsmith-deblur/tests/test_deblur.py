"""deblur: training, resume, Wiener input, tiling, sizes, shipped weights, conformance (the kernel
estimator has its own file)."""

from __future__ import annotations

import pytest
import torch

import pixelsmith
from pixelsmith.plugin import (
    InvalidInputError,
    TrainConfig,
    blur_with_kernel,
    gaussian_kernel,
    motion_kernel,
    read_metadata,
    sha256_of,
    test_photos,
)
from pixelsmith.testing import check_resume, requires_component
from pixelsmith_deblur import Deblurrer, wiener_deconvolve

#: The default (plug-and-play) method builds another plugin's denoiser through the registry: tests of
#: it skip, saying so, when pixelsmith-unet is not installed (CI tests each plugin alone too).
needs_denoiser = requires_component("restorer", "unet-denoise")
#: deblur's methods: plug-and-play (needs the denoiser) and its own network (needs nothing else).
METHODS = [pytest.param("pnp", marks=needs_denoiser), "network"]

TINY = {"widths": "8,16", "patch": "32", "schedule_steps": "6"}


def _config(out, data, steps, **kw):
    return TrainConfig(out=out, data=data, steps=steps, batch_size=2, checkpoint_every=3, sample_every=1000,
                       seed=5, device="cpu", quiet=True, extra=TINY, **kw)


def _psnr(a, b):
    return float(pixelsmith.metric("psnr")(a.clamp(0, 1), b)[0])


def test_trains_a_few_steps_and_resumes_exactly(tmp_path, pixelsmith_tiny_photos):
    spec = pixelsmith.spec("restorer", "deblur")
    path = check_resume(spec.train, _config(tmp_path, pixelsmith_tiny_photos, 6)) / "restorer.safetensors"
    assert read_metadata(path)["task"] == "deblur"
    r = pixelsmith.restorer("deblur", device="cpu", weights=path, method="network")  # the trained network
    assert r.restore(torch.rand(1, 3, 9, 11), kernel=gaussian_kernel(1.0)).shape == (1, 3, 9, 11)


def test_wiener_inverts_a_known_blur():
    clean = test_photos(size=128)["camera"]
    k = gaussian_kernel(2.0)
    blurred = blur_with_kernel(clean, k, "reflect")
    assert _psnr(wiener_deconvolve(blurred, k, 1e-3), clean) > _psnr(blurred, clean) + 3


@pytest.fixture(scope="module")
def deblurrer():
    return pixelsmith.restorer("deblur", device="cpu")


@pytest.fixture(scope="module", params=METHODS)
def any_method(request):
    return pixelsmith.restorer("deblur", device="cpu", method=request.param)


def test_shipped_weights_match_spec_sha256():
    spec = pixelsmith.spec("restorer", "deblur")
    assert sha256_of(spec.weights.path) == spec.weights.sha256
    assert spec.weights.path.stat().st_size < 10 * 2**20


@needs_denoiser
@pytest.mark.parametrize("blur,params,gain,blind_loss", [("gaussian-blur", {"sigma": 2.0}, 1.0, 0.5),
                                                         ("motion-blur", {"length": 9, "angle": 30.0}, 0.5, 1.5)])
def test_deblurs_a_test_photo_blind_and_better_with_kernel(deblurrer, blur, params, gain, blind_loss):
    clean = test_photos(size=256)["camera"]  # the estimator averages over windows: fewer on small images
    d = pixelsmith.degradation(blur, noise=0.01, **params).apply(clean, seed=0)
    blind = _psnr(deblurrer.restore(d.image), clean)            # with the estimated kernel
    alone = _psnr(deblurrer.restore(d.image, estimate_kernel=False), clean)
    told = _psnr(deblurrer.restore(d.image, kernel=d.info["kernel"]), clean)
    base = _psnr(d.image, clean)
    assert alone > base + gain / 2  # the network's own blind mode: weakest on motion blur
    assert told > alone + 0.5       # knowing the kernel is worth a lot...
    # ...and the blind path recovers most of it. A confident straight-line estimate is refined into a kernel
    # of free shape (kernel_shape="auto"): that costs Kornia's own rasterised lines about 1 dB (1.2 here,
    # against 0.0 with kernel_shape="family") and gains it back on continuous lines, anisotropic blur and shake
    assert blind > alone + 0.5 and blind > told - blind_loss


@needs_denoiser
def test_tiled_equals_untiled():
    clean = test_photos(size=512)["camera"]  # 2×2 tiles of 384 below
    d = pixelsmith.degradation("gaussian-blur", sigma=1.5, noise=0.01).apply(clean, seed=1)
    # one view of the prior per call (the default averages 4): tiling is what is tested, at a quarter of the time
    whole = Deblurrer(device="cpu", pnp_ensemble=1)
    tiled = Deblurrer(device="cpu", tile=384, overlap=192, pnp_ensemble=1)  # the default overlap, smaller tiles
    whole.spec = tiled.spec = pixelsmith.spec("restorer", "deblur")
    assert whole.tile >= 512 and (tiled.restore(d.image) - whole.restore(d.image)).abs().max() < 1e-3


@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (1, 3, 2, 3), (2, 1, 5, 7), (1, 3, 37, 53)])
def test_any_size_gray_and_rgb_with_and_without_kernel(any_method, shape):
    x = torch.rand(shape, generator=torch.Generator().manual_seed(0))
    for kw in ({}, {"kernel": motion_kernel(5, 45.0)}):
        out = any_method.restore(x, **kw)
        assert out.shape == shape and float(out.min()) >= 0 and float(out.max()) <= 1


@needs_denoiser
def test_kernel_per_image_and_bad_kernels(deblurrer):
    x = torch.rand(2, 1, 24, 24)
    k1, k2 = gaussian_kernel(1.0), motion_kernel(7, 10.0)
    both = deblurrer.restore(x, kernel=[k1, k2])
    assert torch.allclose(both[1:], deblurrer.restore(x[1:], kernel=k2), atol=1e-5)
    with pytest.raises(InvalidInputError, match="odd"):
        deblurrer.restore(x, kernel=torch.ones(4, 4))
    with pytest.raises(InvalidInputError, match="per image"):
        deblurrer.restore(x, kernel=[k1, k1, k1])


@pytest.mark.parametrize("params", [{}, {"kernel": gaussian_kernel(1.5)}])
@pytest.mark.parametrize("method", METHODS)
def test_conformance_kit(params, method):
    from pixelsmith.testing import check_restorer

    if method == "pnp":
        check_restorer("deblur", params=params)        # the default, built by name
    else:
        restorer = pixelsmith.restorer("deblur", device="cpu", method=method)
        check_restorer(restorer, params=params)
