"""Classical restorers from scikit-image, scipy and (optionally) ``bm3d``.

Each works on numpy images one at a time (``H×W`` gray or ``H×W×3`` RGB), so the base class
converts the batch once and every subclass implements :meth:`_NumpyRestorer._restore_one`.
``sigma`` is the noise standard deviation on the [0, 1] scale (25/255 ≈ 0.098), ``kernel`` the
blur kernel as the blur degradations apply it, by correlation (``kH×kW``, ``info["kernel"]``; a
tensor or array, normalised here to sum to one).
Defaults are tuned on the project's *training* photographs, never on the test split.
"""

from __future__ import annotations

import importlib.util
import warnings
from typing import Any

import numpy as np
import torch

from pixelsmith import InvalidInputError, Restorer

__all__ = [
    "NLMeansRestorer",
    "TVRestorer",
    "WaveletRestorer",
    "BilateralRestorer",
    "MedianRestorer",
    "WienerRestorer",
    "RichardsonLucyRestorer",
    "BM3DRestorer",
    "bm3d_available",
    "bm3d_profile",
    "as_kernel",
    "as_sigma",
]


def bm3d_available() -> bool:
    """Whether the optional ``bm3d`` package (non-commercial licence) can be imported."""
    return importlib.util.find_spec("bm3d") is not None


def as_sigma(sigma: Any, *, name: str = "sigma") -> float:
    """A noise level as a float on the [0, 1] scale, checked."""
    if isinstance(sigma, torch.Tensor):
        if sigma.numel() != 1:
            # a per-image σ would need a per-image call; the base class already loops over images
            sigma = sigma.flatten()[0]
        sigma = float(sigma)
    try:
        value = float(sigma)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name} must be a number (noise std on the [0, 1] scale), got {sigma!r}") from exc
    if not np.isfinite(value) or value < 0:
        raise InvalidInputError(f"{name} must be a finite number >= 0, got {value}")
    if value > 1:
        raise InvalidInputError(
            f"{name}={value} looks like an 8-bit noise level; pass it on the [0, 1] scale ({value}/255)"
        )
    return value


def as_kernel(kernel: Any) -> np.ndarray:
    """A blur kernel as a 2-D float64 array summing to one."""
    if isinstance(kernel, torch.Tensor):
        kernel = kernel.detach().cpu().double().numpy()
    k = np.asarray(kernel, dtype=np.float64)
    while k.ndim > 2 and k.shape[0] == 1:
        k = k[0]
    if k.ndim != 2 or min(k.shape) < 1:
        raise InvalidInputError(f"kernel must be a kH×kW array, got shape {np.asarray(kernel).shape}")
    total = k.sum()
    if not np.isfinite(total) or total <= 0:
        raise InvalidInputError(f"kernel must have a positive finite sum, got {total}")
    return k / total


class _NumpyRestorer(Restorer):
    """Runs :meth:`_restore_one` on each image of the batch on the CPU (scikit-image has no GPU path)."""

    def _restore(self, x: torch.Tensor, **params: Any) -> torch.Tensor:
        arr = x.detach().cpu().double().permute(0, 2, 3, 1).numpy()
        out = np.empty_like(arr)
        for i, img in enumerate(arr):
            rgb = img.shape[2] == 3
            res = self._restore_one(img if rgb else img[:, :, 0], rgb=rgb, **params)
            # some scikit-image filters squeeze a one-row image to 1-D: give it back its shape
            out[i] = np.asarray(res).reshape(out[i].shape)
        return torch.from_numpy(np.clip(out, 0, 1)).float().permute(0, 3, 1, 2).to(x.device)

    def _restore_one(self, img: np.ndarray, *, rgb: bool, **params: Any) -> np.ndarray:
        raise NotImplementedError


def _estimate_sigma(img: np.ndarray, rgb: bool) -> float:
    # Donoho's wavelet MAD estimate: what a user without the true σ would do.
    from skimage.restoration import estimate_sigma

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "mean of empty slice" on tiny images
        sigma = float(estimate_sigma(img, channel_axis=-1 if rgb else None, average_sigmas=True))
    # an image too small for one wavelet coefficient (1×1, 3×3, one row) has no estimate: NaN
    # would turn the whole output into NaN, so treat it as noise-free
    return sigma if np.isfinite(sigma) else 0.0


class NLMeansRestorer(_NumpyRestorer):
    """Non-local means with the true σ (scikit-image's recipe: ``h = 0.8 σ``, fast mode)."""

    def __init__(self, device: Any = None, *, h_factor: float = 0.8, patch_size: int = 5,
                 patch_distance: int = 6) -> None:
        super().__init__("cpu")
        self.h_factor, self.patch_size, self.patch_distance = h_factor, patch_size, patch_distance

    def _restore_one(self, img, *, rgb, sigma=None, **_):
        from skimage.restoration import denoise_nl_means

        s = as_sigma(sigma)
        return denoise_nl_means(img, h=self.h_factor * s, sigma=s, fast_mode=True,
                                patch_size=self.patch_size, patch_distance=self.patch_distance,
                                channel_axis=-1 if rgb else None)


class TVRestorer(_NumpyRestorer):
    """Total-variation (Chambolle) denoising; the weight follows σ (estimated when not given)."""

    def __init__(self, device: Any = None, *, weight_per_sigma: float = 1.0) -> None:
        super().__init__("cpu")
        self.weight_per_sigma = weight_per_sigma

    def _restore_one(self, img, *, rgb, sigma=None, **_):
        from skimage.restoration import denoise_tv_chambolle

        s = as_sigma(sigma) if sigma is not None else _estimate_sigma(img, rgb)
        if s == 0:
            return img
        return denoise_tv_chambolle(img, weight=self.weight_per_sigma * s, channel_axis=-1 if rgb else None)


class WaveletRestorer(_NumpyRestorer):
    """BayesShrink soft-thresholded wavelets (db1... scikit-image defaults), YCbCr for RGB."""

    def _restore_one(self, img, *, rgb, sigma=None, **_):
        from skimage.restoration import denoise_wavelet

        s = as_sigma(sigma) if sigma is not None else None
        return denoise_wavelet(img, sigma=s, method="BayesShrink", mode="soft", rescale_sigma=True,
                               channel_axis=-1 if rgb else None, convert2ycbcr=rgb)


class BilateralRestorer(_NumpyRestorer):
    """Bilateral filter: range width a multiple of σ, spatial width fixed."""

    def __init__(self, device: Any = None, *, color_per_sigma: float = 1.5, sigma_spatial: float = 2.0) -> None:
        super().__init__("cpu")
        self.color_per_sigma, self.sigma_spatial = color_per_sigma, sigma_spatial

    def _restore_one(self, img, *, rgb, sigma=None, **_):
        from skimage.restoration import denoise_bilateral

        s = as_sigma(sigma) if sigma is not None else _estimate_sigma(img, rgb)
        if s == 0:
            return img
        return denoise_bilateral(img, sigma_color=self.color_per_sigma * s, sigma_spatial=self.sigma_spatial,
                                 channel_axis=-1 if rgb else None)


class MedianRestorer(_NumpyRestorer):
    """Switching (adaptive) median for salt-and-pepper noise.

    Only pixels at exactly 0 or 1 are treated as impulses and replaced by the median of the
    clean pixels around them, growing the window (3, 5, 7...) until one is found: a plain median
    would also blur every clean pixel, which no one would pick for impulse noise.
    """

    def __init__(self, device: Any = None, *, max_window: int = 9) -> None:
        super().__init__("cpu")
        self.max_window = max_window

    def _restore_one(self, img, *, rgb, **_):
        if rgb:
            return np.stack([self._restore_one(img[:, :, c], rgb=False) for c in range(3)], axis=-1)
        from numpy.lib.stride_tricks import sliding_window_view

        out = img.copy()
        noisy = (img <= 1e-6) | (img >= 1 - 1e-6)
        todo = noisy.copy()
        values = np.where(noisy, np.nan, img)
        for size in range(3, self.max_window + 1, 2):
            if not todo.any():
                break
            r = size // 2
            padded = np.pad(values, r, mode="reflect")
            windows = sliding_window_view(padded, (size, size))[todo]
            with np.errstate(all="ignore"), _quiet_nan_warnings():
                med = np.nanmedian(windows.reshape(len(windows), -1), axis=1)
            found = ~np.isnan(med)
            idx = np.flatnonzero(todo)
            out.flat[idx[found]] = med[found]
            todo.flat[idx[found]] = False
        if todo.any():  # a hole larger than the biggest window: fall back to a plain median there
            from scipy.ndimage import median_filter

            out[todo] = median_filter(img, size=3, mode="reflect")[todo]
        return out


class _quiet_nan_warnings:
    def __enter__(self):
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)


def _psf(k: np.ndarray) -> np.ndarray:
    # The blur degradations *correlate* with info["kernel"] (Kornia's filter2d); scikit-image's
    # deconvolutions model a *convolution* with the psf. The two differ by a half turn of the kernel,
    # which only symmetric kernels (Gaussian, straight lines) do not notice.
    return np.ascontiguousarray(k[::-1, ::-1])


def _pad_for_deconvolution(img: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, int]:
    # FFT deconvolution assumes a periodic image; reflecting the borders first keeps the
    # wrap-around discontinuity from ringing into the picture.
    pad = 2 * max(k.shape)
    return np.pad(img, pad, mode="reflect"), pad


class WienerRestorer(_NumpyRestorer):
    """Wiener–Hunt deconvolution with the true kernel; regularisation from the noise σ.

    ``balance = balance_per_sigma * σ`` (with a floor for σ = 0): tuned on training photographs
    for Gaussian σ = 2 (best near 3) and motion length 9 (best near 10) with noise 0.01.
    """

    def __init__(self, device: Any = None, *, balance_per_sigma: float = 5.0, min_balance: float = 1e-3) -> None:
        super().__init__("cpu")
        self.balance_per_sigma, self.min_balance = balance_per_sigma, min_balance

    def _restore_one(self, img, *, rgb, kernel=None, sigma=None, **_):
        if rgb:
            return np.stack([self._restore_one(img[:, :, c], rgb=False, kernel=kernel, sigma=sigma)
                             for c in range(3)], axis=-1)
        from skimage.restoration import wiener

        k = as_kernel(kernel)
        s = as_sigma(sigma) if sigma is not None else _estimate_sigma(img, False)
        balance = max(self.min_balance, self.balance_per_sigma * s)
        padded, pad = _pad_for_deconvolution(img, k)
        out = wiener(padded, _psf(k), balance, clip=False)
        return out[pad:-pad, pad:-pad]


class RichardsonLucyRestorer(_NumpyRestorer):
    """Richardson–Lucy with the true kernel, a fixed number of iterations (noise is amplified beyond)."""

    def __init__(self, device: Any = None, *, num_iter: int = 30) -> None:
        super().__init__("cpu")
        self.num_iter = num_iter

    def _restore_one(self, img, *, rgb, kernel=None, **_):
        if rgb:
            return np.stack([self._restore_one(img[:, :, c], rgb=False, kernel=kernel) for c in range(3)], axis=-1)
        from skimage.restoration import richardson_lucy

        k = as_kernel(kernel)
        padded, pad = _pad_for_deconvolution(img, k)
        # RL needs strictly positive data; the floor only matters where the blur met pure black
        out = richardson_lucy(np.clip(padded, 1e-6, None), _psf(k), num_iter=self.num_iter, clip=False)
        return out[pad:-pad, pad:-pad]


def bm3d_profile(threads: int):
    """The ``bm3d`` package's default profile ("np") on ``threads`` threads (0: every core, the package's own default).

    The package ignores ``OMP_NUM_THREADS`` and torch's thread setting: left at its default it used both cores of a
    machine where the network it was timed against had one torch thread (process time 7.0 s against 3.6 s wall for
    a 256² CBM3D on 2 cores, session 31)."""
    import bm3d

    profile = bm3d.BM3DProfile()
    profile.num_threads = int(threads)
    return profile


class BM3DRestorer(_NumpyRestorer):
    """BM3D (Dabov et al.; ``bm3d`` package, non-commercial licence) with the true σ; CBM3D for RGB.

    ``threads``: how many threads BM3D may use; by default as many as torch is set to use
    (``torch.get_num_threads()`` at each call), so one thread setting governs both and timings compare like
    with like; 0 lets the package take every core."""

    def __init__(self, device: Any = None, *, threads: int | None = None) -> None:
        super().__init__("cpu")
        if not bm3d_available():
            raise InvalidInputError("bm3d needs the optional package: pip install 'pixelsmith-classical[bm3d]' "
                                    "(free for non-commercial use only)")
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 0):
            raise InvalidInputError(f"threads must be an int ≥ 0 (0: every core) or None (torch's setting), "
                                    f"got {threads!r}")
        self.threads = threads

    def _restore_one(self, img, *, rgb, sigma=None, **_):
        import bm3d

        s = as_sigma(sigma)
        if s == 0:
            return img
        profile = bm3d_profile(torch.get_num_threads() if self.threads is None else self.threads)
        if rgb:
            return np.asarray(bm3d.bm3d_rgb(img, s, profile))
        return np.asarray(bm3d.bm3d(img, sigma_psd=s, profile=profile))
