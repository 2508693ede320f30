"""Hostile and careless input (issue 12): every case runs the real command in a subprocess whose
address space is capped (``RLIMIT_AS``), and asserts a clean result: one-line errors without a
traceback, the documented exit code, a bounded peak of resident memory, inputs unchanged.

The bombs are made on the fly and are tiny (see ``hostile_files``): a 110 kB TIFF that describes
30000 × 30000 pixels, a 1.1 MB 16-bit PNG of 14000 × 14000, and so on. Before the pixel budget
they took 8 GB and more; a test that regressed would now die at the cap instead of taking the
machine. No timings are asserted.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from pixelsmith.testing import requires_component

from hostile_files import (
    bmp_rle_bomb,
    gif_frames_bomb,
    idx_gzip_bomb,
    jpeg_bomb,
    multipage_tiff,
    pixelsmith_args,
    png_bomb,
    run_capped,
    tiff_bomb,
)

#: the address-space cap of every child: far below what any bomb asks for, far above a normal run
CAP_MIB = 1536
#: the most resident memory a refused bomb may cost (a run that loads torch and a plugin: ~250-550 MiB)
PEAK_MIB = 800
TINY_UNET = ["widths=4,8", "patch=16"]


def _digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _run(*args: str, env: dict | None = None, cap: int = CAP_MIB):
    result = run_capped(pixelsmith_args(*args), cap_mib=cap, env=env)
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return result


def _errors(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def _one_error(result, code: int) -> str:
    """The command failed with ``code`` and said so in exactly one line."""
    assert result.returncode == code, (result.returncode, result.stderr[-2000:])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def bombs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("bombs")
    tiff_bomb(folder / "tiled-30000.tif", 30000, 30000)
    png_bomb(folder / "rgb16-14000.png", 14000, 14000)
    jpeg_bomb(folder / "claims-20000.jpg", 20000, 20000)
    bmp_rle_bomb(folder / "rle-12000.bmp", 12000, 12000)
    return folder


@pytest.fixture
def small_png(tmp_path) -> Path:
    import imageio.v3 as iio

    path = tmp_path / "in" / "small.png"
    path.parent.mkdir()
    iio.imwrite(path, np.random.default_rng(0).integers(0, 256, (24, 20), dtype=np.uint8))
    return path


# -- decompression bombs on every read path -----------------------------------------------------------

BOMBS = [("tiled-30000.tif", "30000 × 30000 = 900,000,000 pixels"),
         ("rgb16-14000.png", "14000 × 14000 = 196,000,000 pixels"),
         ("claims-20000.jpg", "20000 × 20000 = 400,000,000 pixels"),
         ("rle-12000.bmp", "12000 × 12000 = 144,000,000 pixels")]


@pytest.mark.parametrize("name, size", BOMBS)
def test_bombs_are_refused_from_their_header_by_restore(bombs, tmp_path, name, size):
    assert (bombs / name).stat().st_size < 1_300_000  # tiny files...
    before = _digest(bombs)
    result = _run("restore", "median", str(bombs / name), "-o", str(tmp_path / "out"), "--device", "cpu")
    # a folder restore names the file and goes on: exit 1, one error line, then the summary
    assert result.returncode == 1, result.stderr
    [line] = _errors(result)
    assert name in line and size in line and "more than the limit of 100,000,000 pixels" in line
    assert "--max-pixels" in line  # ...and says what to do if the image is genuine
    assert "restored 0 image(s)" in result.stderr and "1 file(s) could not be restored" in result.stderr
    assert result.peak_mib < PEAK_MIB, result.peak_mib   # ...that described gigabytes
    assert _digest(bombs) == before


@pytest.mark.parametrize("command", ["degrade", "measure"])
@pytest.mark.parametrize("name, size", BOMBS[:2])
def test_bombs_are_a_usage_error_for_single_file_commands(bombs, tmp_path, command, name, size):
    path = str(bombs / name)
    args = (["degrade", "salt-and-pepper", path, "-o", str(tmp_path / "x.png")] if command == "degrade"
            else ["measure", "psnr", path, path])
    result = _run(*args)
    line = _one_error(result, 2)
    assert name in line and size in line
    assert result.peak_mib < PEAK_MIB
    assert not (tmp_path / "x.png").exists()


def test_training_folders_read_one_frame_and_refuse_bombs(tmp_path):
    # a GIF of 400 frames on a 3000 × 3000 screen: a reader that composes every frame (imageio's
    # default) holds 400 × 27 MB; the first frame is what a training image is
    data = tmp_path / "data"
    data.mkdir()
    gif_frames_bomb(data / "frames.gif", 3000, 3000, 400)
    tiff_bomb(data / "tiled.tif", 30000, 30000)
    before = _digest(data)
    result = _run("train", "unet-denoise", "--data", str(data), "--steps", "1", "--batch-size", "2",
                  "--out", str(tmp_path / "run"), "--device", "cpu", "--quiet", *TINY_UNET)
    assert result.returncode == 0, result.stderr[-2000:]
    # the TIFF bomb is skipped with a warning naming it, the GIF's first frame trains
    assert "tiled.tif" in result.stderr and "900,000,000 pixels" in result.stderr
    assert result.peak_mib < PEAK_MIB + 200, result.peak_mib
    assert _digest(data) == before


def test_gzip_idx_bomb_is_refused_before_decompressing(tmp_path):
    bomb = idx_gzip_bomb(tmp_path / "train-images-idx3-ubyte.gz", 200_000)  # 157 M pixels in ~150 kB
    result = _run("train", "dcgan", "--data", str(bomb), "--steps", "1", "--out", str(tmp_path / "run"),
                  "--device", "cpu", "--quiet")
    line = _one_error(result, 2)
    assert "200000 × 28 × 28 = 156,800,000 values" in line and "limit of 100,000,000" in line
    assert result.peak_mib < PEAK_MIB


def test_multipage_tiffs_read_their_first_page_only(tmp_path):
    # 300 pages of 2000 × 2000 make one 1.2-gigapixel "series" for imageio's TIFF reader
    stack = multipage_tiff(tmp_path / "stack.tif", [(64, 48)] + [(2000, 2000)] * 300)
    result = _run("degrade", "salt-and-pepper", str(stack), "-o", str(tmp_path / "page0.png"), "amount=0")
    assert result.returncode == 0, result.stderr
    assert result.peak_mib < PEAK_MIB
    from pixelsmith.io import read_image

    assert read_image(tmp_path / "page0.png").shape == (1, 1, 48, 64)


def test_the_pixel_budget_is_configurable(tmp_path, small_png):
    import imageio.v3 as iio

    image = tmp_path / "in" / "wide.png"
    iio.imwrite(image, np.zeros((100, 300), np.uint8))  # 30,000 pixels
    out = tmp_path / "out.png"
    line = _one_error(_run("degrade", "salt-and-pepper", str(image), "-o", str(out), "--max-pixels", "20000"), 2)
    assert "300 × 100 = 30,000 pixels" in line and "limit of 20,000" in line
    line = _one_error(_run("degrade", "salt-and-pepper", str(image), "-o", str(out),
                           env={"PIXELSMITH_MAX_PIXELS": "2e4"}), 2)
    assert "limit of 20,000" in line
    line = _one_error(_run("degrade", "salt-and-pepper", str(image), "-o", str(out),
                           env={"PIXELSMITH_MAX_PIXELS": "lots"}), 2)
    assert "PIXELSMITH_MAX_PIXELS must be a positive whole number" in line
    assert _run("degrade", "salt-and-pepper", str(image), "-o", str(out), "--max-pixels", "30000").returncode == 0


# -- everyday mistakes: one line, the right exit code -------------------------------------------------

def test_output_paths_that_cannot_be_written(tmp_path, small_png):
    existing_file = tmp_path / "taken.txt"
    existing_file.write_text("mine")
    cases = [
        (["restore", "median", str(small_png), "-o", str(existing_file)], "is an existing file, not a folder"),
        (["restore", "median", str(small_png), "-o", "/proc/pixelsmith-out"], "cannot be created"),
        (["train", "dcgan", "--out", str(existing_file), "--steps", "1"], "is an existing file, not a folder"),
        (["generate", "dcgan", "-n", "4", "-o", "/proc/x.png"], "not writable"),
        (["new-plugin", "pixelsmith-hostile", "-o", str(existing_file)], "is an existing file, not a folder"),
    ]
    for args, message in cases:
        line = _one_error(_run(*args), 2)
        assert message in line, (args, line)
    assert existing_file.read_text() == "mine"


def test_parameters_are_checked_before_any_work(tmp_path, small_png):
    out = tmp_path / "out"
    line = _one_error(_run("restore", "unet-denoise", str(small_png), "-o", str(out), "sgma=0.1"), 2)
    assert "does not take 'sgma' (did you mean 'sigma'?)" in line
    line = _one_error(_run("restore", "unet-denoise", str(small_png), "-o", str(out), "sigma=abc"), 2)
    assert "sigma is the noise standard deviation" in line and "'abc'" in line
    line = _one_error(_run("degrade", "gaussian-blur", str(small_png), "-o", str(tmp_path / "b.png"), "sigmaa=2"), 2)
    assert "does not take 'sigmaa' (did you mean 'sigma'?)" in line and "kernel_size" in line
    assert not out.exists() and not (tmp_path / "b.png").exists()



def test_trainer_options_are_checked_before_any_work(tmp_path, capsys):
    """``pixelsmith train NAME key=value``: an option the trainer does not declare, or a value of the
    wrong kind or out of range, is one line and exit 2 before a run folder is made or data is read."""
    from pixelsmith.cli import main

    cases = [
        (["unet-denoise", "foo=1"], ["does not take 'foo'", "it takes", "unclipped", "widths", "leaves.*"]),
        (["unet-denoise", "unclipped=abc"], ["unclipped='abc'", "a number in [0, 1]"]),
        (["unet-denoise", "unclipped=2"], ["unclipped=2", "a number in [0, 1]"]),
        (["unet-denoise", "widths=abc"], ["widths='abc'", "whole numbers in [1, 4096]"]),
        (["unet-denoise", "unclippd=0.3"], ["did you mean 'unclipped'?"]),
        (["unet-denoise", "--data", "dead-leaves", "leaves.rmn=2"], ["unknown dead-leaves option 'rmn'"]),
        (["deblur", "part=both"], ["part='both'", "one of restorer, kernel-estimator"]),
        (["dcgan", "ngff=8"], ["does not take 'ngff' (did you mean 'ngf'?)", "ndf"]),
        (["dcgan", "r1=abc"], ["r1='abc'", "a number"]),
        (["mlp-gan", "hidden=wide"], ["hidden='wide'", "a whole number"]),
    ]
    for i, (args, messages) in enumerate(cases):
        run = tmp_path / f"run{i}"
        args = ["train", *args, "--steps", "1", "--out", str(run), "--device", "cpu", "--quiet"]
        if i == 0:  # the real command, once
            line = _one_error(_run(*args), 2)
        else:
            assert main(args) == 2, args
            err = capsys.readouterr().err.strip().splitlines()
            assert len(err) == 1, err
            line = err[0]
        assert all(m in line for m in messages), (args, line)
        assert not run.exists(), args  # refused before the run folder was made

def test_empty_inputs_are_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "x.png").mkdir()  # a folder with an image's name
    for folder in ("empty", "x.png"):
        line = _one_error(_run("restore", "median", str(tmp_path / folder), "-o", str(tmp_path / "out")), 2)
        assert "no image files in" in line
    assert not (tmp_path / "out").exists()


def test_new_plugin_refuses_names_that_would_break_an_installation(tmp_path):
    cases = {"pixelsmith": "core distribution itself", "pixelsmith-unet": "already installed",
             "import": "Python keyword", "json": "already exists", "p" * 300: "characters long"}
    for name, message in cases.items():
        assert message in _one_error(_run("new-plugin", name, "-o", str(tmp_path)), 2)
    assert list(tmp_path.iterdir()) == []


def test_generate_memory_does_not_grow_with_n(tmp_path):
    line = _one_error(_run("generate", "dcgan", "-n", "10000000", "-o", str(tmp_path / "grid.png")), 2)
    assert "a grid holds at most 1024 samples" in line and "--array" in line
    small = _run("generate", "dcgan", "-n", "2000", "--array", str(tmp_path / "small.npy"), "--device", "cpu")
    large = _run("generate", "dcgan", "-n", "30000", "--array", str(tmp_path / "large.npy"), "--device", "cpu",
                 "-o", str(tmp_path / "grid.png"))
    assert small.returncode == large.returncode == 0, large.stderr
    # holding the samples would cost 28,000 × 784 × 4 B = 88 MB more (twice that while concatenating)
    assert large.peak_mib - small.peak_mib < 30, (small.peak_mib, large.peak_mib)
    array = np.load(tmp_path / "large.npy", mmap_mode="r")
    assert array.shape == (30000, 1, 28, 28) and array.dtype == np.uint8
    assert np.array_equal(np.load(tmp_path / "small.npy"), array[:2000])  # one seeded stream
    assert "grid.png (1024 of 30000 samples" in large.stderr


def test_out_of_memory_on_one_image_names_it_and_the_others_are_restored(tmp_path):
    import imageio.v3 as iio

    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(0)
    iio.imwrite(folder / "a.png", rng.integers(1, 255, (32, 32), dtype=np.uint8))
    png_bomb(folder / "b-big.png", 5000, 4000, bit_depth=8, colour_type=0)  # 20 Mpx: reads, but the
    iio.imwrite(folder / "c.png", rng.integers(1, 255, (32, 32), dtype=np.uint8))  # median needs GBs
    before = _digest(folder)
    result = _run("restore", "median", str(folder), "-o", str(tmp_path / "out"), "--device", "cpu", cap=1200)
    assert result.returncode == 1, result.stderr
    [line] = _errors(result)
    assert "b-big.png" in line and "ran out of memory" in line
    assert "restored 2 image(s)" in result.stderr
    assert sorted(_digest(tmp_path / "out")) == ["a.png", "c.png"]
    assert _digest(folder) == before




def test_tiled_restoration_builds_the_network_input_per_tile():
    """Memory bounded by the tile (issue 12, item 2): unet-denoise stacks image, noise-level map and
    flag for one tile at a time, so neither the stack nor the network ever sees the whole image.
    The measured peaks at 9 and 36 Mpx are in docs/cli.md (benchmarks/tiled_restore_memory.py)."""
    import torch

    import pixelsmith

    for channels in (1, 3):
        restorer = pixelsmith.restorer("unet-denoise", device="cpu", tile=64, overlap=16)
        network = restorer._colour_network() if channels == 3 else restorer
        seen: list[tuple[int, ...]] = []
        original = network.stack  # stacks the network input (image, level map, flag) of what it is given
        network.stack = lambda x, values, original=original: seen.append(tuple(x.shape)) or original(x, values)
        out = restorer.restore(torch.rand(1, channels, 200, 170, generator=torch.Generator().manual_seed(0)))
        assert out.shape == (1, channels, 200, 170)
        assert seen and all(shape[-2] <= 64 and shape[-1] <= 64 for shape in seen), seen

def test_the_blind_noise_estimate_of_a_large_image_stays_small():
    """The blind restorers' noise estimate samples 60,000 patches: on a 16 Mpx image it once
    unfolded all of them in float64 first (6.3 GB); now it gathers the sampled ones."""
    script = """
import torch
from pixelsmith.noise_level import estimate_noise_sigma
x = torch.rand(1, 1, 4000, 4000, generator=torch.Generator().manual_seed(0))
assert 0.2 < float(estimate_noise_sigma(x)[0]) < 0.4
"""
    result = run_capped([os.sys.executable, "-c", script], cap_mib=CAP_MIB)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.peak_mib < PEAK_MIB, result.peak_mib

def test_float_tiffs_stay_float(tmp_path):
    import tifffile

    folder = tmp_path / "in"
    folder.mkdir()
    values = np.linspace(0.1, 0.9, 20 * 24, dtype=np.float32).reshape(20, 24)  # no 0 or 1: no "impulses"
    tifffile.imwrite(folder / "f.tif", values)
    result = _run("restore", "median", str(folder), "-o", str(tmp_path / "out"), "--ext", "same")
    assert result.returncode == 0, result.stderr
    back = tifffile.imread(tmp_path / "out" / "f.tif")
    assert back.dtype == np.float32 and np.allclose(back, values)  # the switching median keeps them


def test_a_plugin_filter_that_matches_nothing_says_so(tmp_path, small_png):
    line = _one_error(_run("restore", "unet-denoise", str(small_png), "-o", str(tmp_path / "o"),
                           env={"PIXELSMITH_LOAD_PLUGINS": "pixelsmith-unett"}), 2)
    assert "PIXELSMITH_LOAD_PLUGINS names 'pixelsmith-unett'" in line and "pixelsmith-unet" in line


def test_debug_shows_the_traceback(tmp_path):
    existing = tmp_path / "f"
    existing.write_text("x")
    result = run_capped(pixelsmith_args("--debug", "restore", "median", str(existing), "-o", str(existing)),
                        cap_mib=CAP_MIB)
    assert result.returncode == 2 and "Traceback" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")
    plain = _run("restore", "median", str(existing), "-o", str(existing), env={"PIXELSMITH_DEBUG": "0"})
    assert plain.returncode == 2


# -- weights and checkpoints from strangers -----------------------------------------------------------

def _edited_dcgan_weights(path: Path, **changes) -> Path:
    import json

    import pixelsmith
    from pixelsmith.weights import load_weights, read_metadata, save_weights

    shipped = pixelsmith.spec("generator", "dcgan").weights.path
    meta = read_metadata(shipped)
    config = {**json.loads(meta["model_config"]), **changes}
    save_weights(path, load_weights(shipped), {**meta, "model_config": config})
    return path


@requires_component("generator", "dcgan")
def test_weights_metadata_cannot_ask_for_terabytes(tmp_path):
    huge = _edited_dcgan_weights(tmp_path / "huge.safetensors", ngf=1_000_000)
    result = _run("generate", "dcgan", "-n", "4", "-o", str(tmp_path / "g.png"), f"weights={huge}")
    line = _one_error(result, 1)
    assert str(huge) in line and "'model_config'" in line and "parameters, more than the limit" in line
    assert result.peak_mib < PEAK_MIB
    bad = _edited_dcgan_weights(tmp_path / "bad.safetensors", ngf="wide")
    line = _one_error(_run("generate", "dcgan", "-n", "4", "-o", str(tmp_path / "g.png"), f"weights={bad}"), 1)
    assert "'model_config.ngf' must be an integer" in line



@requires_component("restorer", "unet-denoise")
@requires_component("restorer", "deblur")
def test_restorer_weights_metadata_cannot_ask_for_terabytes(tmp_path):
    """unet-denoise (gray and colour network), deblur and deblur's kernel estimator check a user's
    ``model_config`` before building anything: one WeightsError naming the file and the field."""
    script = f"""
import json, sys
import torch, pixelsmith
from pixelsmith.errors import WeightsError
from pixelsmith.weights import load_weights, read_metadata, save_weights

# the shipped files, through the registry (no plugin's modules imported)
unet = pixelsmith.restorer("unet-denoise", device="cpu")
deblur = pixelsmith.restorer("deblur", device="cpu")

def edited(source, name, **changes):
    meta = read_metadata(source.path)
    config = {{**json.loads(meta["model_config"]), **changes}}
    path = {str(tmp_path)!r} + "/" + name
    save_weights(path, load_weights(source.path), {{**meta, "model_config": config}})
    return path

x = torch.rand(1, 1, 32, 32)
wide = [200000] * 4
cases = [
    (lambda: pixelsmith.restorer("unet-denoise", weights=edited(unet.weights_file, "u.safetensors",
                                                                widths=wide), device="cpu"),
     "u.safetensors", "'model_config.widths' must lie in [1, 4096], got 200000"),
    (lambda: pixelsmith.restorer("unet-denoise", colour_weights=edited(unet.colour_weights_file,
         "rgb.safetensors", widths=wide), device="cpu").restore(torch.rand(1, 3, 32, 32)),
     "rgb.safetensors", "'model_config.widths' must lie in"),
    (lambda: pixelsmith.restorer("unet-denoise", weights=edited(unet.weights_file, "b.safetensors",
                                                                widths=[4096] * 8), device="cpu"),
     "b.safetensors", "parameters, more than the limit"),
    (lambda: pixelsmith.restorer("unet-denoise", weights=edited(unet.weights_file, "s.safetensors",
                                                                widths=[32, 64, 128, 512]), device="cpu"),
     "s.safetensors", "does not match the file's tensors"),
    (lambda: pixelsmith.restorer("deblur", weights=edited(deblur.weights_file, "d.safetensors",
                                                          in_channels=10**6), device="cpu"),
     "d.safetensors", "'model_config.in_channels' must lie in [1, 64]"),
    (lambda: pixelsmith.restorer("deblur", estimator_weights=edited(deblur.estimator_file, "k.safetensors",
                                                                    width=10**6), device="cpu").restore(x),
     "k.safetensors", "'model_config.width' must lie in [8, 1024]"),
    (lambda: pixelsmith.restorer("deblur", estimator_weights=edited(deblur.estimator_file, "w.safetensors",
                                                                    width=1000), device="cpu").restore(x),
     "w.safetensors", "does not match the file's tensors"),
]
for build, name, message in cases:
    try:
        build()
    except WeightsError as exc:
        text = str(exc)
        assert name in text and message in text and chr(10) not in text, text
    else:
        sys.exit("built " + name)
"""
    result = run_capped([os.sys.executable, "-c", script], cap_mib=CAP_MIB)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.peak_mib < PEAK_MIB, result.peak_mib


@requires_component("restorer", "unet-denoise")
@requires_component("generator", "dcgan")
def test_garbled_weights_metadata_is_a_weights_error_naming_file_and_field(tmp_path):
    """Bad JSON, a missing key, ``step="abc"``: WeightsErrors naming the file and the field, never
    a JSONDecodeError, KeyError or ValueError (issue 12)."""
    import pixelsmith
    from pixelsmith import WeightsError
    from pixelsmith.weights import load_weights, read_metadata, save_weights

    source = pixelsmith.spec("restorer", "unet-denoise").weights.path
    state, meta = load_weights(source), read_metadata(source)

    def write(name: str, metadata: dict) -> Path:
        save_weights(tmp_path / name, state, metadata)
        return tmp_path / name

    no_config = write("none.safetensors", {k: v for k, v in meta.items() if k != "model_config"})
    cases = [
        (write("json.safetensors", {**meta, "model_config": "{'widths': [32,"}), "'model_config' is not valid JSON"),
        (no_config, "'model_config' is missing"),
        (write("step.safetensors", {**meta, "step": "abc"}), "'step' is not valid JSON"),
        (write("blocks.safetensors", {**meta, "model_config": {**json.loads(meta["model_config"]), "blocks": "2"}}),
         "'model_config.blocks' must be an integer"),
    ]
    for path, message in cases:
        with pytest.raises(WeightsError) as info:
            pixelsmith.restorer("unet-denoise", weights=path, device="cpu")
        text = str(info.value)
        assert str(path) in text and message in text and "\n" not in text, text
    with pytest.raises(WeightsError, match="none.safetensors has no model_config metadata"):
        pixelsmith.generator("dcgan", weights=no_config, device="cpu")


def test_a_checkpoint_whose_step_is_not_a_number_is_one_line(tmp_path):
    from pixelsmith.weights import save_weights

    run = tmp_path / "run"
    run.mkdir()
    import torch

    save_weights(run / "checkpoint-00000002.safetensors", {"G.x": torch.zeros(1)},
                 {"step": "abc", "format": "pixelsmith-checkpoint-1", "component": "dcgan"})
    line = _one_error(_run("train", "dcgan", "--resume", "--steps", "4", "--out", str(run), "--device", "cpu"), 1)
    assert "checkpoint-00000002.safetensors" in line and "'step' must be a whole number" in line, line

def test_a_flipped_checkpoint_is_named_and_the_previous_one_resumes(tmp_path):
    from train_runs import TINY_DCGAN, write_tiny_mnist

    data = write_tiny_mnist(tmp_path / "data")
    run = tmp_path / "run"
    args = ["--data", str(data), "--batch-size", "8", "--checkpoint-every", "2", "--sample-every", "1000",
            "--device", "cpu", "--out", str(run), *TINY_DCGAN]
    assert _run("train", "dcgan", "--steps", "4", *args).returncode == 0
    newest = run / "checkpoint-00000004.safetensors"
    data_bytes = bytearray(newest.read_bytes())
    for i in range(16):  # sixteen flipped bytes in the tensor data: the file still parses
        data_bytes[-1000 - 37 * i] ^= 0xFF
    newest.write_bytes(bytes(data_bytes))
    result = _run("train", "dcgan", "--steps", "6", "--resume", *args)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "checkpoint-00000004.safetensors is corrupt" in result.stderr
    assert "resuming from checkpoint-00000002.safetensors" in result.stderr
    assert (run / "checkpoint-00000004.safetensors.corrupt").exists()
    from pixelsmith.training.checkpoint import latest_checkpoint, verify_checkpoint

    assert latest_checkpoint(run).name == "checkpoint-00000006.safetensors"
    assert verify_checkpoint(latest_checkpoint(run)) == "verified"


def test_a_pickle_payload_is_never_executed(tmp_path):
    """Every path that loads weights, checkpoints or models refuses a pickle without running it."""
    import torch

    marker = tmp_path / "PWNED"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    evil = tmp_path / "evil.pth"
    torch.save({"weight": Payload()}, evil)
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(evil, run / "checkpoint-00000002.safetensors")
    as_safetensors = tmp_path / "evil.safetensors"
    shutil.copy(evil, as_safetensors)
    cases = [
        ["restore", "unet-denoise", str(evil), "-o", str(tmp_path / "o1"), f"--device=cpu"],
        ["generate", "dcgan", "-n", "2", "-o", str(tmp_path / "g.png"), f"weights={as_safetensors}"],
        ["train", "dcgan", "--resume", "--steps", "4", "--out", str(run), "--device", "cpu"],
    ]
    for args in cases:
        result = _run(*args)
        assert result.returncode in (1, 2), (args, result.stderr)
        assert len(_errors(result)) == 1, result.stderr
    script = f"""
import sys, pixelsmith
from pathlib import Path
from pixelsmith.errors import PixelsmithError
from pixelsmith.weights import load_weights, read_metadata, check_weights_file
from pixelsmith.training.checkpoint import load_checkpoint
path = Path({str(as_safetensors)!r})
attempts = [lambda: load_weights(path), lambda: read_metadata(path), lambda: check_weights_file(path),
            lambda: load_checkpoint(path), lambda: pixelsmith.restorer("unet-denoise", weights=path, device="cpu"),
            lambda: pixelsmith.generator("dcgan", weights=path, device="cpu")]
try:
    from pixelsmith_genmetrics.inception import check_plain_weights
    attempts.append(lambda: check_plain_weights(Path({str(evil)!r})))
except ImportError:
    pass
for attempt in attempts:
    try:
        attempt()
    except PixelsmithError:
        continue
    sys.exit("loaded a pickle")
"""
    result = run_capped([os.sys.executable, "-c", script], cap_mib=CAP_MIB)
    assert result.returncode == 0, result.stderr[-2000:]
    assert not marker.exists(), "a pickle payload ran"



def test_every_package_requires_a_torch_whose_load_defaults_to_weights_only():
    """torch >= 2.6: torch.load defaults to weights_only=True, so a third-party loader handed a user's
    file cannot run a pickle (issue 12)."""
    import re

    root = Path(__file__).resolve().parents[1]
    for pyproject in [root / "pyproject.toml", *sorted(root.glob("plugins/*/pyproject.toml"))]:
        text = pyproject.read_text()
        pins = re.findall(r'"torch\s*([<>=!~][^"]*)"', text)
        if pyproject.parent == root:
            assert pins, "pixelsmith must name torch"  # plugins that do not name it get the core's pin
        assert all(pin.startswith(">=2.6") or pin.startswith(">=2.7") or pin.startswith(">=3") for pin in pins), \
            (pyproject, pins)

# -- the Python API raises PixelsmithErrors only ---------------------------------------------------------

def test_api_errors_are_pixelsmith_errors_that_say_what_was_expected():
    import torch

    import pixelsmith
    from pixelsmith import InvalidInputError

    x = torch.rand(1, 1, 16, 16)
    restorer = pixelsmith.restorer("tv", device="cpu")  # accepts sigma
    generator = pixelsmith.generator("dcgan", device="cpu")
    cases = [
        (lambda: pixelsmith.restorer("unet-denoise", device="cpu").restore(x, sigma="abc"), "sigma is the noise"),
        (lambda: restorer.restore(x, sgma=0.1), "did you mean"),
        (lambda: restorer.restore(torch.empty(1, 1, 16, 16, device="meta")), "'meta' device"),
        (lambda: generator.sample(4, batch_size=0), "batch_size must be a positive int, got 0"),
        (lambda: generator.sample(4, seed=2**70), "seed must be an int in [0, 2**64)"),
        (lambda: generator.decode(torch.zeros(2, 3)), "z must be an n×100 tensor"),
        (lambda: pixelsmith.metric("psnr")(torch.empty(1, 1, 8, 8, device="meta"), x[..., :8, :8]), "'meta'"),
        (lambda: pixelsmith.degradation("gaussian-blur", sigmaa=1.0), "did you mean 'sigma'"),
        (lambda: pixelsmith.degradation("gaussian-noise", sigma=0.1)(x, seed=-1), "seed must be"),
        (lambda: pixelsmith.Pipeline(restorer=restorer, params={"sgma": 0.1}), "did you mean 'sigma'"),
        (lambda: pixelsmith.Pipeline(batch_size=0), "batch_size must be a positive int"),
        (lambda: pixelsmith.generator("dcgan", wieghts="x"), "did you mean 'weights'"),
    ]
    for call, message in cases:
        with pytest.raises(InvalidInputError) as info:
            call()
        assert message in str(info.value), (message, str(info.value))
    assert generator.sample(0).shape == (0, 1, 28, 28)
    # a single degradation or metric name is taken as a list of one
    assert pixelsmith.Pipeline(degradations="gaussian-noise", metrics="psnr").metrics.keys() == {"psnr"}


def test_plugin_failures_reach_the_caller_as_pixelsmith_errors():
    import torch

    import pixelsmith
    from pixelsmith import PluginError, ResourceError

    class Broken(pixelsmith.Restorer):
        def _restore(self, x, **params):
            return {}["missing"]

    class Hungry(pixelsmith.Restorer):
        def _restore(self, x, **params):
            raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory")

    x = torch.rand(1, 1, 8, 8)
    with pytest.raises(PluginError, match=r"restorer 'Broken' on an input of shape \(1, 1, 8, 8\) failed: KeyError") as info:
        Broken(device="cpu").restore(x)
    assert isinstance(info.value.__cause__, KeyError)
    with pytest.raises(ResourceError, match="ran out of memory") as info:
        Hungry(device="cpu").restore(x)
    assert isinstance(info.value, MemoryError)
