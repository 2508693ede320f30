"""The patch-PCA noise-level estimator against the true σ and against scikit-image's wavelet estimate."""

from __future__ import annotations

import pytest
import torch

import pixelsmith
from pixelsmith.data.photos import load_photo
from pixelsmith.errors import InvalidInputError
from pixelsmith.noise_level import estimate_noise_sigma


@pytest.mark.parametrize("sigma", [5, 15, 25, 50])
def test_estimates_the_true_sigma_on_photographs(sigma):
    clean = torch.cat([load_photo(n)[..., :128, :128] for n in ("brick", "camera", "text")])
    noisy = pixelsmith.degradation("gaussian-noise", sigma=sigma / 255, clip=False)(clean, seed=sigma)
    est = estimate_noise_sigma(noisy) * 255
    assert est.shape == (3,)
    assert (est - sigma).abs().max() < max(2.0, 0.08 * sigma), est


def test_texture_is_not_taken_for_noise_as_much_as_by_a_wavelet_estimate():
    # the failure the issue measured: on fine texture a residual-based estimate sees noise
    from skimage.restoration import estimate_sigma

    clean = load_photo("gravel")[..., :192, :192]
    noisy = pixelsmith.degradation("gaussian-noise", sigma=10 / 255, clip=False)(clean, seed=1)
    pca = float(estimate_noise_sigma(noisy)[0]) * 255
    wavelet = float(estimate_sigma(noisy[0, 0].numpy())) * 255
    assert abs(pca - 10) < abs(wavelet - 10)


def test_colour_and_small_images():
    clean = load_photo("astronaut", channels=3)[..., :96, :96]
    noisy = pixelsmith.degradation("gaussian-noise", sigma=20 / 255, clip=False)(clean, seed=0)
    assert abs(float(estimate_noise_sigma(noisy)[0]) * 255 - 20) < 2.5
    assert float(estimate_noise_sigma(torch.rand(1, 1, 4, 4))[0]) == 0.0
    with pytest.raises(InvalidInputError):
        estimate_noise_sigma(torch.rand(4, 4))


def test_unclipped_noise_leaves_the_unit_range_and_restorers_take_it():
    clean = load_photo("camera")[..., 64:192, 64:192]
    clipped = pixelsmith.degradation("gaussian-noise", sigma=0.2)(clean, seed=0)
    unclipped = pixelsmith.degradation("gaussian-noise", sigma=0.2, clip=False).apply(clean, seed=0)
    assert float(clipped.min()) >= 0 and float(clipped.max()) <= 1
    assert float(unclipped.image.min()) < -0.05 and float(unclipped.image.max()) > 1.05
    assert unclipped.info["clip"] is False
    # same draw: clipping the unclipped result gives the clipped one
    assert torch.equal(unclipped.image.clamp(0, 1), clipped)
    out = pixelsmith.restorer("unet-denoise").restore(unclipped.image, sigma=0.2)
    assert float(out.min()) >= 0 and float(out.max()) <= 1
    with pytest.raises(pixelsmith.InvalidInputError, match="NaN or Inf"):
        pixelsmith.restorer("unet-denoise").restore(torch.full((1, 1, 8, 8), float("inf")))
    with pytest.raises(pixelsmith.InvalidInputError, match="clip"):
        pixelsmith.degradation("gaussian-noise", clip="no")
    # metrics keep their range checks
    with pytest.raises(pixelsmith.InvalidInputError, match=r"\[0, 1\]"):
        pixelsmith.metric("psnr")(unclipped.image, clean)


def test_sampled_patches_are_gathered_not_unfolded():
    """Above max_patches the estimator gathers the sampled patches from the image: the same columns,
    in the same order, as unfolding every patch and picking them, in memory that follows max_patches
    (unfolding a 36 Mpx image would take 14 GB; issue 12). The reference is the textbook covariance of
    centred columns; the estimator sums products instead (faster), so they agree to rounding (~1e-16 here),
    where another choice of patches would differ by ~1e-3."""
    import torch.nn.functional as F

    from pixelsmith.noise_level import _patch_covariance_eigenvalues

    img = torch.rand(97, 131, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    cols = F.unfold(img[None, None], 7)[0]
    pick = torch.randperm(cols.shape[1], generator=torch.Generator().manual_seed(0))[:500]
    cols = cols[:, pick]
    cols = cols - cols.mean(dim=1, keepdim=True)
    expected = torch.linalg.eigvalsh(cols @ cols.T / (cols.shape[1] - 1)).clamp_min(0)
    got = _patch_covariance_eigenvalues(img, 7, 500, torch.Generator().manual_seed(0))
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-15)


def test_huge_images_draw_patch_positions_without_a_permutation(monkeypatch):
    """Above 2**24 patch positions no permutation of all of them is made (8 bytes each); the
    estimate is as good."""
    import pixelsmith.noise_level as noise_level

    def no_permutation(*args, **kwargs):
        raise AssertionError("randperm over every patch position")

    g = torch.Generator().manual_seed(0)
    x = torch.full((1, 1, 300, 300), 0.5) + 0.05 * torch.randn(1, 1, 300, 300, generator=g)
    monkeypatch.setattr(noise_level, "_PERMUTE_LIMIT", 10_000)
    monkeypatch.setattr(noise_level.torch, "randperm", no_permutation)
    assert abs(float(noise_level.estimate_noise_sigma(x, max_patches=5000)[0]) - 0.05) < 0.005
