"""Bad input, fuzzed: the public API and the CLI's file inputs either give a correct result or raise
a :class:`PixelsmithError` with a message — never another exception, never a hang, never a changed
input. Run with ``--hypothesis-show-statistics`` to see how many cases were generated.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import pixelsmith
from pixelsmith.cli import main
from pixelsmith.errors import PixelsmithError

# A hang shows as a deadline error; sizes stay small so a case takes milliseconds. The deadline is
# generous because CI boxes are shared. CI runs a fixed, reproducible set of cases; to explore, e.g.
#   PIXELSMITH_FUZZ_EXAMPLES=1000 PIXELSMITH_FUZZ_RANDOM=1 pytest tests/test_fuzz.py --hypothesis-show-statistics
FUZZ = settings(max_examples=int(os.environ.get("PIXELSMITH_FUZZ_EXAMPLES", "100")), deadline=5000,
                derandomize=not os.environ.get("PIXELSMITH_FUZZ_RANDOM"),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

DTYPES = ["uint8", "uint16", "float16", "float32", "float64", "bool", "int32", "int64"]
SIDES = st.one_of(st.integers(1, 24), st.sampled_from([1, 2, 3, 7, 11, 12, 31]))


@st.composite
def shapes(draw):
    """(H, W, C or None for a 2-D array), including 1×1, odd sizes and very wide or tall images."""
    if draw(st.integers(0, 9)) == 0:
        h, w = draw(st.sampled_from([(1, 300), (2, 257), (300, 1), (3, 129), (0, 5), (4, 0)]))
    else:
        h, w = draw(SIDES), draw(SIDES)
    return h, w, draw(st.sampled_from([None, 1, 2, 3, 4]))


@st.composite
def arrays(draw, shape=None, dtype=None):
    h, w, c = shape if shape is not None else draw(shapes())
    dtype = dtype or draw(st.sampled_from(DTYPES))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    full = (h, w) if c is None else (h, w, c)
    if dtype == "bool":
        arr = rng.random(full) > 0.5
    elif dtype in ("uint8", "uint16", "int32", "int64"):
        hi = {"uint8": 256, "uint16": 65536}.get(dtype, 300)
        arr = rng.integers(-5 if dtype.startswith("int") else 0, hi, full).astype(dtype)
    else:
        arr = rng.random(full).astype(dtype)
        special = draw(st.sampled_from([None, None, None, np.nan, np.inf, -np.inf, 1.5, -0.25]))
        if special is not None and arr.size:
            arr.flat[draw(st.integers(0, arr.size - 1))] = special
    return arr


@FUZZ
@given(ndim=st.sampled_from([0, 1, 5, 6]), dtype=st.sampled_from(DTYPES), form=st.sampled_from(["numpy", "torch"]))
def test_as_image_batch_wrong_rank(ndim, dtype, form):
    arr = np.zeros((2,) * ndim, dtype=dtype)
    x = arr if form == "numpy" else torch.from_numpy(arr)
    with pytest.raises(PixelsmithError) as info:
        pixelsmith.as_image_batch(x)
    assert "expected" in str(info.value) or "not supported" in str(info.value) or "cannot convert" in str(info.value)


def as_input(arr: np.ndarray, form: str):
    """The array as a user might pass it: numpy H×W[×C], or a torch C×H×W / 1×C×H×W tensor."""
    if form == "numpy":
        return arr
    t = torch.from_numpy(np.ascontiguousarray(arr))
    t = t.unsqueeze(-1) if t.ndim == 2 else t
    t = t.permute(2, 0, 1)
    return t.unsqueeze(0) if form == "bchw" else t


def _expect(exc_or_result, call):
    """Run ``call``; a PixelsmithError is fine (checked for a message), any other exception fails."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return call(), None
    except PixelsmithError as exc:
        assert str(exc).strip(), f"{type(exc).__name__} without a message"
        return None, exc


def _snapshot(x):
    return x.clone() if isinstance(x, torch.Tensor) else np.array(x, copy=True)


def _unchanged(before, after):
    if isinstance(before, torch.Tensor):
        return torch.equal(before, after) or (before.is_floating_point() and
                                             torch.equal(before.isnan(), after.isnan()) and
                                             torch.equal(before.nan_to_num(), after.nan_to_num()))
    return np.array_equal(before, after, equal_nan=before.dtype.kind == "f")


def _valid_batch(t: torch.Tensor) -> None:
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float32 and t.ndim == 4 and t.shape[1] in (1, 3)
    assert bool(torch.isfinite(t).all()) and float(t.min()) >= 0 and float(t.max()) <= 1


# -- tensors -------------------------------------------------------------------------------------------

@FUZZ
@given(arr=arrays(), form=st.sampled_from(["numpy", "chw", "bchw"]))
def test_as_image_batch(arr, form):
    x = as_input(arr, form)
    before = _snapshot(x)
    out, exc = _expect(None, lambda: pixelsmith.as_image_batch(x))
    assert _unchanged(before, x)
    if exc is not None:
        return
    _valid_batch(out)
    h, w = arr.shape[:2]
    assert tuple(out.shape[2:]) == (h, w)
    if arr.dtype == np.uint8 and (arr.ndim == 2 or arr.shape[2] in (1, 3)):
        expected = torch.from_numpy(arr.astype(np.float32) / 255).reshape(h, w, -1).permute(2, 0, 1)
        assert torch.equal(out[0], expected)


# -- metrics ---------------------------------------------------------------------------------------------

@FUZZ
@given(shape=shapes(), dtype=st.sampled_from(DTYPES), data=st.data(),
       name=st.sampled_from(["psnr", "ssim", "mse", "ms-ssim"]), form=st.sampled_from(["numpy", "bchw"]))
def test_metric(shape, dtype, data, name, form):
    pred = as_input(data.draw(arrays(shape, dtype)), form)
    target = as_input(data.draw(arrays(shape, dtype)), form)
    if data.draw(st.booleans()):  # sometimes a mismatched pair
        target = as_input(data.draw(arrays()), form)
    snaps = _snapshot(pred), _snapshot(target)
    values, exc = _expect(None, lambda: pixelsmith.metric(name)(pred, target))
    assert _unchanged(snaps[0], pred) and _unchanged(snaps[1], target)
    if exc is None:
        assert isinstance(values, torch.Tensor) and values.shape == (1,)
        v = float(values[0])
        assert not np.isnan(v), f"{name} gave NaN for valid input"
        if name == "psnr":
            assert v >= 0  # 0 dB when every pixel is off by the full range; inf for identical images
        elif name == "mse":
            assert 0 <= v <= 1
        else:
            assert -1 <= v <= 1 + 1e-6


# -- degradations and restorers ---------------------------------------------------------------------------

DEGRADATIONS = ["gaussian-blur", "gaussian-noise", "inpainting-mask", "motion-blur", "poisson-noise",
                "salt-and-pepper"]


@FUZZ
@given(arr=arrays(), name=st.sampled_from(DEGRADATIONS), seed=st.integers(0, 2**31),
       form=st.sampled_from(["numpy", "chw", "bchw"]))
def test_degradation(arr, name, seed, form):
    x = as_input(arr, form)
    before = _snapshot(x)
    out, exc = _expect(None, lambda: pixelsmith.degradation(name)(x, seed=seed))
    assert _unchanged(before, x)
    if exc is None:
        _valid_batch(out)
        assert tuple(out.shape[2:]) == arr.shape[:2]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            again = pixelsmith.degradation(name)(x, seed=seed)
        assert torch.equal(out, again), "same seed, different bytes"


@FUZZ
@given(arr=arrays(), name=st.sampled_from(["median", "tv", "bilateral", "wavelet"]),
       form=st.sampled_from(["numpy", "bchw"]))
def test_classical_restorer(arr, name, form):
    x = as_input(arr, form)
    before = _snapshot(x)
    out, exc = _expect(None, lambda: pixelsmith.restorer(name, device="cpu").restore(x))
    assert _unchanged(before, x)
    if exc is None:
        _valid_batch(out)
        assert tuple(out.shape[2:]) == arr.shape[:2]


def _unet():
    try:
        return pixelsmith.restorer("unet-denoise", device="cpu")
    except PixelsmithError as exc:  # weights not trained/installed yet
        pytest.skip(f"unet-denoise unavailable: {exc}")


@FUZZ
@given(arr=arrays(), sigma=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True, width=32),
                                     st.floats(0, 0.3)))
def test_unet_restorer(arr, sigma):
    unet = _unet()
    x = as_input(arr, "bchw")
    before = _snapshot(x)
    params = {} if sigma is None else {"sigma": sigma}
    out, exc = _expect(None, lambda: unet.restore(x, **params))
    assert _unchanged(before, x)
    if exc is None:
        _valid_batch(out)
        assert tuple(out.shape[2:]) == arr.shape[:2]


# -- files: reading and the CLI -----------------------------------------------------------------------------

FILE_KINDS = ["png", "png16", "rgba", "gray-alpha", "tif", "tif-float", "jpg", "bmp", "empty", "truncated",
              "garbage", "wrong-extension", "text-as-png", "npy-as-png"]


@st.composite
def image_files(draw):
    """(file name, bytes): valid images of random shape and depth, and broken ones."""
    import imageio.v3 as iio

    kind = draw(st.sampled_from(FILE_KINDS))
    h, w, _ = draw(shapes())
    h, w = max(h, 1), max(w, 1)  # encoders cannot write empty images (empty files are their own kind)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    gray8 = rng.integers(0, 256, (h, w), dtype=np.uint8)

    def enc(arr, ext):
        return bytes(iio.imwrite("<bytes>", arr, extension=ext))

    if kind == "png":
        c = draw(st.sampled_from([None, 3]))
        return "a.png", enc(gray8 if c is None else rng.integers(0, 256, (h, w, 3), dtype=np.uint8), ".png")
    if kind == "png16":
        return "a.png", enc(rng.integers(0, 65536, (h, w), dtype=np.uint16), ".png")
    if kind == "rgba":
        return "a.png", enc(rng.integers(0, 256, (h, w, 4), dtype=np.uint8), ".png")
    if kind == "gray-alpha":
        return "a.png", enc(rng.integers(0, 256, (h, w, 2), dtype=np.uint8), ".png")
    if kind == "tif":
        return "a.tif", enc(rng.integers(0, 65536, (h, w, 3), dtype=np.uint16), ".tif")
    if kind == "tif-float":
        arr = rng.random((h, w)).astype(np.float32) * draw(st.sampled_from([1.0, 3.0, np.nan]))
        return "a.tif", enc(arr, ".tif")
    if kind == "jpg":
        return "a.jpg", enc(np.stack([gray8] * 3, -1), ".jpg")
    if kind == "bmp":
        return "a.bmp", enc(np.stack([gray8] * 3, -1), ".bmp")
    if kind == "empty":
        return draw(st.sampled_from(["a.png", "a.jpg", "a.tif"])), b""
    if kind == "truncated":
        data = enc(gray8, ".png")
        return "a.png", data[:draw(st.integers(1, max(1, len(data) - 1)))]
    if kind == "garbage":
        return draw(st.sampled_from(["a.png", "a.jpg", "a.tif", "a.bmp"])), draw(st.binary(min_size=1, max_size=64))
    if kind == "wrong-extension":
        return draw(st.sampled_from(["a.txt", "a.gif", "a", "a.PNG.bak"])), enc(gray8, ".png")
    if kind == "text-as-png":
        return "a.png", b"hello, not an image\n"
    buf = io.BytesIO()
    np.save(buf, gray8)
    return "a.png", buf.getvalue()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@FUZZ
@given(file=image_files())
def test_read_image(file):
    name, data = file
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, name)
        path.write_bytes(data)
        digest = _sha(path)
        image, exc = _expect(None, lambda: pixelsmith.io.read_image(path))
        assert _sha(path) == digest
        if exc is None:
            _valid_batch(image)
            assert image.shape[0] == 1
        else:
            assert str(path) in str(exc), f"error does not name the file: {exc}"


def _cli(argv):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main([str(a) for a in argv])
    assert code in (0, 1, 2), code
    return code


@FUZZ
@given(a=image_files(), b=image_files(), metric=st.sampled_from(["psnr", "ssim"]))
def test_cli_measure(a, b, metric):
    with tempfile.TemporaryDirectory() as tmp:
        pa, pb = Path(tmp, "p", a[0]), Path(tmp, "t", b[0])
        for p, (_, data) in ((pa, a), (pb, b)):
            p.parent.mkdir()
            p.write_bytes(data)
        digests = _sha(pa), _sha(pb)
        _cli(["measure", metric, pa, pb])
        assert (_sha(pa), _sha(pb)) == digests


@FUZZ
@given(files=st.lists(image_files(), min_size=1, max_size=3), restorer=st.sampled_from(["median", "tv"]),
       ext=st.sampled_from(["png", "same"]))
def test_cli_restore(files, restorer, ext):
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp, "in")
        src.mkdir()
        paths = []
        for i, (name, data) in enumerate(files):
            p = src / f"{i}{name}"
            p.write_bytes(data)
            paths.append(p)
        digests = [_sha(p) for p in paths]
        out = Path(tmp, "out")
        code = _cli(["restore", restorer, *paths, "-o", out, "--ext", ext, "--quiet"])
        assert [_sha(p) for p in paths] == digests
        if code == 0:
            assert sum(1 for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")) == len(paths)


@FUZZ
@given(file=image_files(), name=st.sampled_from(DEGRADATIONS), seed=st.integers(-1, 5))
def test_cli_degrade(file, name, seed):
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp, file[0])
        src.write_bytes(file[1])
        digest = _sha(src)
        out = Path(tmp, "out", "x.png")
        code = _cli(["degrade", name, src, "-o", out, "--seed", seed])
        assert _sha(src) == digest
        if code == 0:
            image = pixelsmith.io.read_image(out)
            _valid_batch(image)
