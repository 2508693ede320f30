"""The command line: a few real subprocess runs, the rest in-process through ``main([...])``."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

import pixelsmith
from pixelsmith.cli import main
from pixelsmith.io import read_image, read_image_data, write_image
from pixelsmith.testing import registered

from fake_components import FakePlugin
from fake_dists import IMPORT_FAILS, make_dist

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def fakes():
    with registered(FakePlugin()) as reg:
        yield reg


def _run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """``python -m pixelsmith ARGS``; an ``env`` value of None removes that variable."""
    merged = {**os.environ, **(env or {})}
    merged = {k: v for k, v in merged.items() if v is not None}
    return subprocess.run([sys.executable, "-m", "pixelsmith", *args], capture_output=True, text=True,
                          env=merged, timeout=300)


def _digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _img(seed: int, c: int = 1, h: int = 10, w: int = 12) -> torch.Tensor:
    return torch.rand(1, c, h, w, generator=torch.Generator().manual_seed(seed))


# -- subprocess: the real entry point ------------------------------------------------------------------
def test_plugins_json_lists_the_builtins_and_reports_a_broken_installed_plugin(tmp_path):
    make_dist(tmp_path, "ps-cli-broken", IMPORT_FAILS, version="9.9")
    env = {"PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
           "PIXELSMITH_LOAD_PLUGINS": "ps-cli-broken", "PIXELSMITH_STRICT_PLUGINS": None}
    result = _run("plugins", "--json", env=env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    builtin = next(p for p in data["plugins"] if p["name"] == "pixelsmith.builtin")
    names = {(c["kind"], c["name"]) for c in builtin["components"]}
    assert {("metric", m) for m in ("mse", "psnr", "ssim", "ms-ssim")} <= names
    assert {("degradation", d) for d in ("gaussian-noise", "salt-and-pepper", "gaussian-blur",
                                         "motion-blur", "poisson-noise", "inpainting-mask")} <= names
    [failure] = data["failures"]
    assert failure["distribution"] == "ps-cli-broken" and failure["version"] == "9.9"
    assert "not installed" in failure["error"]
    text = _run("plugins", env=env)
    assert text.returncode == 0 and "ps-cli-broken" in text.stdout and "psnr" in text.stdout


def test_errors_are_one_line_without_traceback():
    result = _run("measure", "nope-metric", "a.png", "b.png")
    assert result.returncode == 2
    assert result.stderr.startswith("error: no metric named 'nope-metric'")
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


# -- in-process -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["plugins", "measure", "degrade", "generate", "restore", "train",
                                     "new-plugin"])
def test_help_everywhere(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert "usage: pixelsmith " + command in capsys.readouterr().out


def test_version(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"pixelsmith {pixelsmith.__version__}"


def test_measure_psnr_matches_the_formula(tmp_path, capsys):
    a, b = _img(0), _img(1)
    write_image(tmp_path / "a.png", a)
    write_image(tmp_path / "b.png", b)
    assert main(["measure", "psnr", str(tmp_path / "a.png"), str(tmp_path / "b.png"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    qa = np.rint(a.numpy() * 255) / 255
    qb = np.rint(b.numpy() * 255) / 255
    expected = 10 * np.log10(1.0 / np.mean((qa - qb) ** 2))
    assert out["mean"] == pytest.approx(expected, abs=1e-3)
    assert out["higher_is_better"] is True and out["settings"]["metric"] == "psnr"


def test_measure_folders_pairs_by_name(tmp_path, capsys, fakes):
    for folder, shift in (("pred", 0.1), ("target", 0.0)):
        for name in ("x.png", "y.png"):
            write_image(tmp_path / folder / name, torch.full((1, 1, 4, 4), 0.5 + shift))
    assert main(["measure", "tiny-mae", str(tmp_path / "pred"), str(tmp_path / "target"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["values"]) == {"x.png", "y.png"}
    assert out["mean"] == pytest.approx(0.1, abs=2 / 255)


def test_degrade_is_seeded_and_never_overwrites(tmp_path, fakes, capsys):
    src = write_image(tmp_path / "in.png", _img(0))
    before = src.read_bytes()
    assert main(["degrade", "tiny-noise", str(src), "-o", str(tmp_path / "a.png"), "sigma=0.2", "--seed", "4"]) == 0
    assert main(["degrade", "tiny-noise", str(src), "-o", str(tmp_path / "b.png"), "sigma=0.2", "--seed", "4"]) == 0
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert "sigma=0.2" in capsys.readouterr().err
    # refuses an existing output, and the input itself even with --overwrite
    assert main(["degrade", "tiny-noise", str(src), "-o", str(tmp_path / "a.png"), "--seed", "5"]) == 2
    assert main(["degrade", "tiny-noise", str(src), "-o", str(src), "--overwrite"]) == 2
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert src.read_bytes() == before
    assert "already exists" in capsys.readouterr().err


def test_generate_grid_and_each(tmp_path, fakes):
    assert main(["generate", "tiny-gen", "-n", "6", "--seed", "1", "-o", str(tmp_path / "g.png"),
                 "--each", str(tmp_path / "each"), "--device", "cpu", "--quiet"]) == 0
    grid = read_image(tmp_path / "g.png")
    assert grid.shape == (1, 1, 2 * 10 + 2, 3 * 10 + 2)  # 8×8 samples, 3 per row, 2 px padding
    files = sorted(p.name for p in (tmp_path / "each").iterdir())
    assert files == [f"sample_{i:04d}.png" for i in range(6)]
    expected = pixelsmith.generator("tiny-gen", device="cpu").sample(6, seed=1)
    assert torch.allclose(read_image(tmp_path / "each" / "sample_0002.png"), expected[2:3], atol=1 / 255)
    assert main(["generate", "tiny-gen", "-n", "2", "-o", str(tmp_path / "g.png")]) == 2  # exists


# -- restore: the folder guarantees ---------------------------------------------------------------------
@pytest.fixture
def photo_folder(tmp_path):
    src = tmp_path / "photos"
    write_image(src / "a.png", _img(0))
    write_image(src / "sub" / "b.jpg", _img(1, c=3))
    write_image(src / "deep16.tif", _img(2), bit_depth=16)
    write_image(src / "sub" / "c16.png", _img(3, c=3), bit_depth=16)
    (src / "zz-corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"truncated")
    (src / "notes.txt").write_text("not an image, ignored")
    return src


def test_restore_folder_guarantees(photo_folder, tmp_path, fakes, capsys):
    before = _digest(photo_folder)
    out = tmp_path / "out"
    code = main(["restore", "tiny-box", str(photo_folder), "-o", str(out), "sigma=0.1", "--quiet"])
    err = capsys.readouterr().err
    assert code == 1  # one file could not be read
    assert "zz-corrupt.png" in err
    assert _digest(photo_folder) == before  # inputs untouched
    assert sorted(_digest(out)) == ["a.png", "deep16.png", "sub/b.png", "sub/c16.png"]
    assert read_image_data(out / "deep16.png").bit_depth == 16
    assert read_image_data(out / "sub" / "c16.png").bit_depth == 16
    assert read_image_data(out / "a.png").bit_depth == 8
    restorer = pixelsmith.restorer("tiny-box", device="cpu")
    expected = restorer.restore(read_image(photo_folder / "sub" / "c16.png"))
    assert torch.allclose(read_image(out / "sub" / "c16.png"), expected, atol=1e-4)


def test_restore_resumes_and_never_overwrites_without_asking(photo_folder, tmp_path, fakes, capsys):
    (photo_folder / "zz-corrupt.png").unlink()
    out = tmp_path / "out"
    assert main(["restore", "tiny-box", str(photo_folder), "-o", str(out), "--quiet"]) == 0
    first = _digest(out)
    (out / "a.png").unlink()  # as if the run had been interrupted before a.png
    (out / "deep16.png").write_bytes(b"user's own file")
    assert main(["restore", "tiny-box", str(photo_folder), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "restored 1 image(s)" in err and "skipped 3 existing" in err
    assert (out / "deep16.png").read_bytes() == b"user's own file"
    assert _digest(out)["a.png"] == first["a.png"]
    assert main(["restore", "tiny-box", str(photo_folder), "-o", str(out), "--overwrite", "--quiet"]) == 0
    assert _digest(out) == first
    assert not [p for p in out.rglob(".*")]  # no temporary files left behind


def test_restore_refuses_to_write_into_its_inputs(photo_folder, tmp_path, fakes, capsys):
    before = _digest(photo_folder)
    for outdir in (photo_folder, photo_folder / "restored", photo_folder / "sub"):
        assert main(["restore", "tiny-box", str(photo_folder), "-o", str(outdir)]) == 2
    single = photo_folder / "a.png"
    assert main(["restore", "tiny-box", str(single), "-o", str(photo_folder)]) == 2
    assert "never writes into its inputs" in capsys.readouterr().err
    assert _digest(photo_folder) == before


def test_restore_files_and_parameters(photo_folder, tmp_path, fakes, capsys):
    out = tmp_path / "out"
    files = [str(photo_folder / "a.png"), str(photo_folder / "sub" / "b.jpg")]
    assert main(["restore", "tiny-box", *files, "-o", str(out), "--ext", "tif", "--quiet"]) == 0
    assert sorted(_digest(out)) == ["a.tif", "b.tif"]
    # a parameter the restorer does not take is refused once, up front, as a usage error naming it
    capsys.readouterr()
    assert main(["restore", "tiny-box", files[0], "-o", str(tmp_path / "o2"), "sigam=1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err == "error: restorer 'tiny-box' does not take 'sigam' (did you mean 'sigma'?); it takes sigma\n"
    assert not (tmp_path / "o2").exists()


def test_restore_builds_the_restorer_with_the_options_given(photo_folder, tmp_path, fakes, capsys):
    source = photo_folder / "a.png"
    assert main(["restore", "tiny-box", str(source), "-o", str(tmp_path / "one"), "--quiet"]) == 0
    assert main(["restore", "tiny-box", str(source), "-o", str(tmp_path / "three"), "--quiet",
                 "--option", "passes=3"]) == 0
    expected = pixelsmith.restorer("tiny-box", passes=3).restore(read_image(source))
    three, one = read_image(tmp_path / "three" / "a.png"), read_image(tmp_path / "one" / "a.png")
    assert float((three - expected).abs().max()) <= 0.5 / 255 + 1e-6   # 8-bit rounding only
    assert float((three - one).abs().max()) > 2 / 255
    capsys.readouterr()
    assert main(["restore", "tiny-box", str(source), "-o", str(tmp_path / "bad"), "--quiet",
                 "--option", "pases=3"]) != 0
    assert "pases" in capsys.readouterr().err and not (tmp_path / "bad").exists()
    assert main(["restore", "tiny-box", str(source), "-o", str(tmp_path / "dev"), "--quiet",
                 "--option", "device=cpu"]) == 2
    assert "--device" in capsys.readouterr().err


def test_restore_refuses_clashing_outputs(tmp_path, fakes, capsys):
    write_image(tmp_path / "in" / "x.png", _img(0))
    write_image(tmp_path / "in" / "x.jpg", _img(1))
    assert main(["restore", "tiny-box", str(tmp_path / "in"), "-o", str(tmp_path / "out")]) == 2
    assert "would both be written" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert main(["restore", "tiny-box", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--ext", "same",
                 "--quiet"]) == 0
    assert sorted(_digest(tmp_path / "out")) == ["x.jpg", "x.png"]


def test_restore_unknown_restorer_or_missing_input(tmp_path, fakes, capsys):
    write_image(tmp_path / "in" / "x.png", _img(0))
    assert main(["restore", "no-such", str(tmp_path / "in"), "-o", str(tmp_path / "out")]) == 2
    assert main(["restore", "tiny-box", str(tmp_path / "missing"), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "no restorer named 'no-such'" in err and "missing does not exist" in err


# -- train, bench ---------------------------------------------------------------------------------------
class TrainablePlugin:
    def __init__(self):
        self.configs = []

    @pixelsmith.hookimpl
    def pixelsmith_register_restorers(self):
        from fake_components import BoxRestorer

        def train(config):
            self.configs.append(config)
            return config.out / "last.safetensors"

        return [pixelsmith.RestorerSpec(name="trainable-box", factory=BoxRestorer, summary="box",
                                        tasks=("denoise",), train=train)]


def test_train_builds_the_config_and_calls_the_trainer(tmp_path):
    plugin = TrainablePlugin()
    with registered(plugin, FakePlugin()):
        code = main(["train", "trainable-box", "--steps", "5", "--batch-size", "2", "--lr", "0.01",
                     "--out", str(tmp_path / "run"), "--resume", "--seed", "3", "--no-augment", "--quiet",
                     "--data", str(tmp_path), "patch=32", "sigmas=[5, 25]"])
        assert code == 0
        [config] = plugin.configs
        assert (config.steps, config.batch_size, config.lr, config.seed) == (5, 2, 0.01, 3)
        assert config.resume and not config.augment and config.quiet and config.data == tmp_path
        assert config.out == tmp_path / "run" and config.checkpoint_every == 500  # the default
        assert dict(config.extra) == {"patch": 32, "sigmas": [5, 25]}
        assert main(["train", "tiny-box"]) == 2  # no trainer
        assert main(["train", "tiny-bx"]) == 2  # unknown


def test_bench_dispatches_to_the_harness(monkeypatch):
    seen = []
    fake = types.ModuleType("pixelsmith.bench.cli")
    fake.main = lambda argv: seen.append(argv) or 0
    monkeypatch.setitem(sys.modules, "pixelsmith.bench.cli", fake)
    assert main(["bench", "--quick", "-o", "out/"]) == 0
    assert seen == [["--quick", "-o", "out/"]]


def test_bench_without_a_harness_says_so(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pixelsmith.bench.cli", None)  # import of it fails
    assert main(["bench", "--quick"]) == 1
    assert "bench harness" in capsys.readouterr().err


@pytest.mark.parametrize("text, value", [("3", 3), ("0.5", 0.5), ("true", True), ("no", False),
                                         ("[1, 2]", [1, 2]), ("reflect", "reflect"), ("1e-3", 1e-3)])
def test_param_values_are_typed(text, value):
    from pixelsmith.cli._common import parse_params

    assert parse_params([f"key-name={text}"]) == {"key_name": value}


def test_train_reports_an_early_stop_not_a_finish(tmp_path, capsys):
    from pixelsmith.cli.train import _checkpoint_step
    from pixelsmith.training.checkpoint import save_checkpoint

    path = tmp_path / "checkpoint-00000007.safetensors"
    save_checkpoint(path, step=7, modules={"m": torch.nn.Linear(1, 1)})
    assert _checkpoint_step(path) == 7
    assert _checkpoint_step(tmp_path) is None  # a trainer may return its output folder
