"""Every code block of docs/plugin-guide.md runs here, so the guide's examples cannot rot.

Each fenced block in the guide follows a ``<!-- guide-test: ID -->`` comment naming the runner below
that executes it (and checks it does what the guide says), or ``<!-- guide-test: skip: REASON -->``
for a block that cannot run in a test, with the reason. A block without a marker, a marker without a
runner and a runner without a block all fail, and the skipped blocks are counted.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import re
import subprocess
import sys
import types
from pathlib import Path
from typing import Callable

import pytest
import torch

import pixelsmith
from pixelsmith.cli import main
from pixelsmith.plugin import TrainConfig
from pixelsmith.testing import check, registered, requires_component

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "plugin-guide.md"

#: The blocks that cannot run in a test: (the marker's reason, in the guide) -> how many. Raise a count
#: only together with a reason in the guide; a new block should get a runner instead. None today.
SKIPPED: dict[str, int] = {}


@dataclasses.dataclass(frozen=True)
class Block:
    id: str
    language: str
    code: str
    line: int

    @property
    def skipped(self) -> bool:
        return self.id.startswith("skip:")


def _blocks() -> list[Block]:
    text = GUIDE.read_text(encoding="utf-8")
    blocks, marker = [], None
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        found = re.fullmatch(r"<!-- guide-test: (.+?) -->", line.strip())
        if found:
            marker = found.group(1)
        elif line.startswith("```"):
            language, start, body = line[3:].strip(), i + 1, []
            i += 1
            while not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            blocks.append(Block(marker or "", language, "\n".join(body) + "\n", start))
            marker = None
        elif line.strip():
            marker = None  # a marker names the block right after it (blank lines between allowed)
        i += 1
    return blocks


BLOCKS = _blocks()
RUNNERS: dict[str, Callable[..., None]] = {}


def runner(block_id: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    def register(fn: Callable[..., None]) -> Callable[..., None]:
        RUNNERS[block_id] = fn
        return fn
    return register


def _block(block_id: str) -> Block:
    (found,) = [b for b in BLOCKS if b.id == block_id]
    return found


def _exec(block_id: str, name: str | None = None, **namespace) -> types.ModuleType:
    """The block's Python code run as a module of its own."""
    module = types.ModuleType(name or f"guide_{block_id.replace('-', '_')}")
    module.__dict__.update(namespace)
    block = _block(block_id)
    code = compile("\n" * (block.line - 1) + block.code, str(GUIDE), "exec")  # tracebacks point into the guide
    exec(code, module.__dict__)  # noqa: S102
    return module


def _my_denoiser(**changes) -> types.ModuleType:
    """The guide's restorer example registered as "my-denoiser", the name sections 4-6 use, with the
    trainer of section 6 as its spec's train."""
    module = _exec("contract-restorer", "guide_my_denoiser")
    trainer = _exec("trainer")
    module.SPEC = dataclasses.replace(module.SPEC, name="my-denoiser", train=trainer.train, **changes)
    return module


# -- the structure: every block is run or says why not -------------------------------------------------

def test_every_block_has_a_runner_or_a_reason():
    unmarked = [f"line {b.line} ({b.language})" for b in BLOCKS if not b.id]
    assert not unmarked, f"blocks of the guide without a <!-- guide-test: ID --> marker: {unmarked}"
    ids = [b.id for b in BLOCKS if not b.skipped]
    assert len(ids) == len(set(ids)), "a guide-test ID names two blocks"
    assert set(ids) == set(RUNNERS), (f"blocks without a runner: {sorted(set(ids) - set(RUNNERS))}; "
                                      f"runners without a block: {sorted(set(RUNNERS) - set(ids))}")


def test_the_skipped_blocks_are_counted_and_say_why():
    skipped = [b for b in BLOCKS if b.skipped]
    for block in skipped:
        assert len(block.id.removeprefix("skip:").strip()) > 20, f"line {block.line}: say why it cannot run"
    counted = {reason: sum(reason in b.id for b in skipped) for reason in SKIPPED}
    assert counted == SKIPPED and len(skipped) == sum(SKIPPED.values()), [b.id for b in skipped]
    ran = len(BLOCKS) - len(skipped)
    assert ran >= 15 and ran / len(BLOCKS) > 0.9, f"only {ran} of {len(BLOCKS)} blocks run"


@pytest.mark.parametrize("block_id", [b.id for b in BLOCKS if b.id and not b.skipped])
def test_block(block_id, request, tmp_path, monkeypatch):
    assert block_id in RUNNERS, f"no runner for the guide's block {block_id!r}"
    RUNNERS[block_id](tmp_path=tmp_path, request=request, monkeypatch=monkeypatch)


# -- section 1: the template ------------------------------------------------------------------------------

@runner("template-commands")
def _template_commands(tmp_path, **_):
    tomllib = pytest.importorskip("tomllib")     # Python 3.11+
    commands = [line.split("#")[0].split() for line in _block("template-commands").code.splitlines() if line.strip()]
    assert [c[:2] for c in commands] == [["pixelsmith", "new-plugin"], ["pip", "install"], ["python", "-m"]]
    new_plugin, install, run_tests = commands
    assert main([*new_plugin[1:-1], str(tmp_path)]) == 0          # `-o .` into a scratch folder
    folder = tmp_path / new_plugin[2]
    assert install[-1].strip('"') == f"{new_plugin[2]}[test]"      # the extra that brings pytest
    assert "pytest" in tomllib.loads((folder / "pyproject.toml").read_text())["project"]["optional-dependencies"][
        "test"][0]
    # `pip install -e` is not run (a test does not install into its own environment): the sources go on
    # the path instead, so the generated tests run as written (their discovery test skips, not installed)
    env = {**_child_env(), "PYTHONPATH": str(folder / "src")}
    result = subprocess.run([sys.executable, *run_tests[1:-1], str(folder), "-q", "-p", "no:cacheprovider"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.search(r"\b3 passed, 1 skipped\b", result.stdout), result.stdout[-500:]


def _child_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("PIXELSMITH_")} | {"OMP_NUM_THREADS": "1"}


# -- section 2: the four contracts ----------------------------------------------------------------------

X = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(0))


@runner("contract-metric")
def _contract_metric(**_):
    module = _exec("contract-metric")
    with registered(module):
        check("metric", "my-mae")
        m = pixelsmith.metric("my-mae")
        assert m.name == "my-mae" and m.higher_is_better is False and m(X, X).tolist() == [0.0, 0.0]
        y = X.clone()
        y[1] += 0.1
        assert m(X, y.clamp(0, 1)).tolist() == pytest.approx([0.0, float((y[1].clamp(0, 1) - X[1]).abs().mean())])
        assert m.evaluate(X, X).settings["data_range"] == 1.0
        with pytest.raises(pixelsmith.InvalidInputError, match="data_range must be positive"):
            pixelsmith.metric("my-mae", data_range=0)


@runner("metric-check-pair")
def _metric_check_pair(**_):
    module = _exec("metric-check-pair")
    with registered(module):
        check("metric", "my-worst-window")
        m = pixelsmith.metric("my-worst-window")
        y = X.clone()
        y[1, :, 4:12, 4:12] = 1 - y[1, :, 4:12, 4:12]      # one bad 8×8 spot in the second image
        worst = float((y[1, :, 4:12, 4:12] - X[1, :, 4:12, 4:12]).abs().mean())
        assert m(X, y).tolist() == pytest.approx([0.0, worst], rel=1e-5)
        with pytest.raises(pixelsmith.InvalidInputError, match="at least 8×8 pixels, got 4×6"):
            m(X[..., :4, :6], X[..., :4, :6])


@runner("contract-restorer")
def _contract_restorer(**_):
    module = _exec("contract-restorer")
    with registered(module):
        check("restorer", "shrink-to-mean")
        r = pixelsmith.restorer("shrink-to-mean", device="cpu")
        per_image = r.restore(X, sigma=torch.tensor([0.0, 0.2]))   # sigma as a float or one per image
        assert torch.equal(per_image[0], X[0]) and not torch.equal(per_image[1], X[1])
        assert torch.allclose(r.restore(X, sigma=0.2)[1], per_image[1])
        assert torch.allclose(r.restore(X, sigma=torch.tensor(0.2)), r.restore(X, sigma=0.2))


@runner("contract-generator")
def _contract_generator(**_):
    module = _exec("contract-generator")
    with registered(module):
        check("generator", "my-linear-gen")
        g = pixelsmith.generator("my-linear-gen", device="cpu")
        assert torch.equal(g.sample(8, seed=0), g.sample(8, seed=0)) and g.sample(8, seed=0).shape == (8, 1, 16, 16)


@runner("contract-degradation")
def _contract_degradation(**_):
    module = _exec("contract-degradation")
    with registered(module):
        check("degradation", "dust")
        d = pixelsmith.degradation("dust", amount=0.1).apply(X, seed=0)
        assert {k: v for k, v in d.info.items() if k != "mask"} == {"degradation": "dust", "amount": 0.1,
                                                                    "darkness": 0.7}
        assert d.info["mask"].shape == (2, 1, 16, 16) and 0 < float(d.info["mask"].mean()) < 0.3
        assert set(d.truth) == {"amount", "mask"} and d.truth["amount"] == 0.1   # what the guide says after it


@runner("entry-point")
def _entry_point(**_):
    tomllib = pytest.importorskip("tomllib")
    table = tomllib.loads(_block("entry-point").code)
    (target,) = table["project"]["entry-points"]["pixelsmith"].values()
    assert re.fullmatch(r"[a-z_]+(\.[a-z_]+)+", target)                  # a module path, as the template writes
    template = (Path(pixelsmith.__file__).parent / "templates" / "plugin" / "pyproject.toml.tmpl").read_text()
    assert "[project.entry-points.pixelsmith]" in template


# -- section 3: the hooks -------------------------------------------------------------------------------

@runner("declare-options")
def _declare_options(tmp_path, **_):
    module = _exec("declare-options")
    trainer = module.train
    module = _my_denoiser()
    module.SPEC = dataclasses.replace(module.SPEC, train=trainer)
    with registered(module):
        assert main(["train", "my-denoiser", "--out", str(tmp_path / "run"), "--quiet", "loss=l3"]) == 2
        assert main(["train", "my-denoiser", "--out", str(tmp_path / "run"), "--quiet", "patch=4"]) == 2
        assert not (tmp_path / "run").exists()                       # refused before a run folder is made


# -- section 4: the conformance kit ---------------------------------------------------------------------

@runner("kit-check")
def _kit_check(**_):
    with registered(_my_denoiser()):
        _exec("kit-check").test_conformance()


@runner("kit-resume")
def _kit_resume(tmp_path, request, **_):
    with registered(_my_denoiser()):
        _exec("kit-resume").test_resume_is_exact(tmp_path, request.getfixturevalue("pixelsmith_tiny_photos"))
    assert sorted(p.name for p in (tmp_path / "straight").glob("*.safetensors"))[-1] == "restorer.safetensors"


@runner("kit-fixtures")
def _kit_fixtures(request, monkeypatch, **_):
    package = types.ModuleType("my_package")
    package.__path__ = []
    package.plugin = _my_denoiser()
    monkeypatch.setitem(sys.modules, "my_package", package)
    monkeypatch.setitem(sys.modules, "my_package.plugin", package.plugin)
    _exec("kit-fixtures").test_kit(request.getfixturevalue("pixelsmith_check"),
                                   request.getfixturevalue("pixelsmith_plugins"))


@runner("kit-checks")
def _kit_checks(**_):
    with registered(_my_denoiser()):
        module = _exec("kit-checks")                 # checks(...) runs when the module is imported
        (mark,) = [m for m in module.test_conformance.pytestmark if m.name == "parametrize"]
        every = mark.args[1]
        assert len(every) >= 5 and all(callable(c) for c in every)
        for one in every:
            module.test_conformance(one)


# -- section 5: model facts, golden outputs, export -----------------------------------------------------

@requires_component("restorer", "unet-denoise")
def _info_transcript(capsys, **_):
    lines = _block("info-transcript").code.splitlines()
    command = lines[0].removeprefix("$ ").split()
    assert command[0] == "pixelsmith" and main(command[1:]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert shown[0].split()[0] == lines[1].split()[0] == "unet-denoise"
    # the same facts in the same order; their values follow the shipped weights, not the guide
    assert _fields(shown) == _fields(lines[1:])


def _fields(lines: list[str]) -> list[str]:
    """The fact names of `pixelsmith info` output (indented two spaces; values of a field four)."""
    return [line.split()[0] for line in lines if line.startswith("  ") and not line.startswith("    ")]


@runner("info-transcript")
def _info_transcript_runner(request, **_):
    if (reason := _missing("restorer", "unet-denoise")) is not None:
        pytest.skip(reason)
    _info_transcript(capsys=request.getfixturevalue("capsys"))


def _missing(kind: str, name: str) -> str | None:
    return None if name in pixelsmith.list_components(kind) else f"needs the {kind} {name!r}, not installed"


@runner("golden")
def _golden(tmp_path, **_):
    from pixelsmith.plugin import WeightsFile, load_into, load_weights, save_weights
    from pixelsmith.testing import ConformanceError
    from pixelsmith.testing.golden import main as golden_main

    def ship(seed: int) -> WeightsFile:
        """A "trained" 3×3 convolution, as section 6's trainer writes it, shipped in tmp_path."""
        torch.manual_seed(seed)
        path = tmp_path / "my-denoiser.safetensors"
        return WeightsFile(path, save_weights(path, torch.nn.Conv2d(1, 1, 3, padding=1).state_dict()))

    def plugin(weights: WeightsFile, shift: float = 0.0) -> types.SimpleNamespace:
        class MyDenoiser(pixelsmith.Restorer):
            def __init__(self, device=None):
                super().__init__(device)
                self.net = torch.nn.Conv2d(1, 1, 3, padding=1)
                load_into(self.net, load_weights(weights))               # sha256-checked
                self.net.to(self.device).eval()

            @torch.inference_mode()
            def _restore(self, x, sigma=None):
                s = torch.as_tensor(0.1 if sigma is None else sigma, dtype=x.dtype, device=x.device)
                s = s.reshape(-1, 1, 1, 1)                                # one for all, or one per image
                out = self.net(x.reshape(-1, 1, *x.shape[2:])).reshape(x.shape)   # each channel alike
                return torch.lerp(x, out, s / (s + 0.05)) + shift

        spec = pixelsmith.RestorerSpec(name="my-denoiser", factory=MyDenoiser, summary="a 3×3 convolution",
                                       tasks=("denoise",), channels=(1, 3), accepts=("sigma",), weights=weights)
        return types.SimpleNamespace(pixelsmith_register_restorers=pixelsmith.hookimpl(lambda: [spec]))

    weights = ship(seed=0)
    with registered(plugin(weights)):
        threads = torch.get_num_threads()
        try:  # `python -m pixelsmith.testing.golden --update my-denoiser`, in this process (not installed)
            assert golden_main(["--update", "my-denoiser"]) == 0
        finally:
            torch.set_num_threads(threads)
        written = json.loads((tmp_path / "my-denoiser.golden.json").read_text())   # beside the weights
        assert written["weights"]["sha256"] == weights.sha256
        assert {c["case"] for c in written["cases"]} == {"gray-blind", "gray-given", "rgb-blind", "rgb-given"}
        _exec("golden").test_golden()                                    # the guide's block, as written
    with registered(plugin(weights, shift=1e-3)):                        # a change in what users get
        with pytest.raises(ConformanceError, match=r"(?s)gray-blind .*exceeds 0\.0001.*--update my-denoiser"):
            _exec("golden").test_golden()
    retrained = ship(seed=1)                                             # new weights, golden file not rerun
    with registered(plugin(retrained)):
        with pytest.raises(ConformanceError, match="recorded for weights sha256"):
            _exec("golden").test_golden()


@runner("export")
def _export(tmp_path, monkeypatch, **_):
    pytest.importorskip("onnxruntime")
    from pixelsmith.testing import check_export

    # TorchScript reads the module's source, so this block is imported from a real file
    source = tmp_path / "guide_export.py"
    source.write_text(_block("export").code, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("guide_export", source)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "guide_export", module)
    spec.loader.exec_module(module)

    class Box(module.MyBox):                         # the `...` of the guide: the restorer's own work
        def _restore(self, x, **params):
            return module.BoxGraph()(x)

    plugin = types.SimpleNamespace(pixelsmith_register_restorers=pixelsmith.hookimpl(lambda: [
        pixelsmith.RestorerSpec(name="my-box", factory=Box, summary="3×3 box filter", tasks=("denoise",))]))
    with registered(plugin):
        results = check_export("my-box")
    assert {r.format for r in results} == {"onnx", "torchscript"}


# -- section 6: training ----------------------------------------------------------------------------------

@runner("trainer")
def _trainer(tmp_path, **_):
    module = _exec("trainer")
    out = module.train(TrainConfig(out=tmp_path, steps=4, batch_size=2, checkpoint_every=2, sample_every=2,
                                   device="cpu", quiet=True))
    assert out == tmp_path / "restorer.safetensors" and out.exists()
    from pixelsmith.plugin import read_metadata

    meta = read_metadata(out)
    assert meta["component"] == "my-denoiser" and meta["steps"] == "4" and float(meta["val_mse"]) < 0.1
    logged = (tmp_path / "log.jsonl").read_text().splitlines()
    assert len(logged) >= 2 and all('"step"' in line for line in logged)


@runner("gan")
def _gan(tmp_path, request, **_):
    from pixelsmith.plugin import GENERATOR_FILE, read_metadata

    module = _exec("gan")                              # its own networks: no GAN plugin needs to be installed
    plain, conditional = module.pixelsmith_register_generators()
    assert (plain.name, conditional.name) == ("my-gan", "my-gan-cond")
    assert plain.output_shape == conditional.output_shape == (1, 28, 28)
    assert not plain.conditional and conditional.conditional and plain.weights is None
    assert (plain.factory, conditional.factory) == (module.MyGAN, module.ConditionalMyGAN)
    assert {"latent_dim", "image_size", "channels", "hidden"} <= set(plain.train.options)
    assert module.ConditionalMyGAN.architecture_defaults()["num_classes"] == 10
    assert "num_classes" in conditional.train.options
    digits = request.getfixturevalue("pixelsmith_tiny_digits")
    with registered(module):
        for spec, labels in ((plain, None), (conditional, torch.tensor([3, 8]))):
            out = tmp_path / spec.name
            spec.train(TrainConfig(out=out, data=digits, steps=2, batch_size=8, checkpoint_every=2, sample_every=2,
                                   device="cpu", quiet=True, extra={"hidden": "16"}))   # `hidden=16`: tiny
            assert read_metadata(out / GENERATOR_FILE)["component"] == spec.name
            g = pixelsmith.generator(spec.name, device="cpu", weights=out / GENERATOR_FILE)
            assert g.conditional == spec.conditional and g.latent_dim == 64 and g.model_config["hidden"] == 16
            samples = g.sample(2, seed=0, labels=labels)
            assert samples.shape == (2, 1, 28, 28) and torch.equal(samples, g.sample(2, seed=0, labels=labels))
            assert 0 <= float(samples.min()) and float(samples.max()) <= 1
        with pytest.raises(pixelsmith.InvalidInputError, match=r"labels must be in 0\.\.9"):
            g.sample(2, seed=0, labels=torch.tensor([3, 10]))      # the conditional one: 10 classes
        check("generator", g)                                     # the conformance kit, with labels
