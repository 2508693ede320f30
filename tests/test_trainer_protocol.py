"""The trainer protocol and its one driver (run_trainer), through the complete example of the plugin
guide's training section: it runs as written, resumes exactly, logs, checkpoints, validates and
exports when the guide says, stops cleanly on a signal, and the guide's GAN example registers."""

from __future__ import annotations

import json
import os
import re
import signal
import types
from dataclasses import replace
from pathlib import Path

import pytest

from pixelsmith.testing import check_resume
from pixelsmith.training import Trainer, TrainConfig, load_checkpoint
from pixelsmith.training.checkpoint import read_manifest
from pixelsmith.weights import read_metadata

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "plugin-guide.md"


def _training_blocks() -> list[str]:
    text = GUIDE.read_text(encoding="utf-8")
    section = re.search(r"^## \d+\. Train it: the trainer protocol$(.*?)(?=^## )", text, re.S | re.M)
    assert section, "the plugin guide has no '## N. Train it: the trainer protocol' section"
    return re.findall(r"```python\n(.*?)```", section.group(1), re.S)


def _module(source: str, name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(source, f"plugin-guide.md ({name})", "exec"), module.__dict__)  # noqa: S102
    return module


@pytest.fixture(scope="module")
def guide():
    return _module(_training_blocks()[0], "guide_trainer")


def _config(out: Path, steps: int = 6, **kw) -> TrainConfig:
    return TrainConfig(out=out, steps=steps, batch_size=4, checkpoint_every=4, sample_every=3, quiet=True,
                       device="cpu", **kw)


def test_the_guide_trainer_is_a_trainer_and_resumes_exactly(tmp_path, guide):
    assert isinstance(guide.TinyDenoiserTrainer(_config(tmp_path)), Trainer)
    straight = check_resume(guide.train, _config(tmp_path, steps=8))
    ckpt = load_checkpoint(straight / "checkpoint-00000008.safetensors")
    assert set(k.split(".")[0] for k in ckpt.tensors) == {"net", "optim"}
    assert ckpt.metadata["component"] == "my-denoiser" and ckpt.metadata["kernel_size"] == "3"


def test_the_driver_logs_checkpoints_validates_and_exports_on_its_schedule(tmp_path, guide):
    out = guide.train(_config(tmp_path / "run", steps=7))
    assert out == tmp_path / "run" / "restorer.safetensors" and out.is_file()
    # checkpoints every 4 steps and at the last step; the newest two kept, both in the manifest
    assert sorted(p.name for p in (tmp_path / "run").glob("checkpoint-*")) == [
        "checkpoint-00000004.safetensors", "checkpoint-00000007.safetensors"]
    assert sorted(read_manifest(tmp_path / "run")) == [
        "checkpoint-00000004.safetensors", "checkpoint-00000007.safetensors"]
    records = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    losses = [r["step"] for r in records if "loss" in r]
    validations = [r["step"] for r in records if "val_mse" in r]
    assert losses == [2, 4, 6, 7]            # log_every = 2, and the last step
    assert validations == [3, 6, 7]          # sample_every = 3, and the last step
    assert all(set(r) == {"step", "seconds", "loss"} for r in records if "loss" in r)
    meta = read_metadata(out)
    assert meta["steps"] == "7" and float(meta["val_mse"]) == pytest.approx(records[-1]["val_mse"], abs=1e-6)


def test_nothing_to_train_and_a_folder_without_resume(tmp_path, guide, capsys):
    guide.train(_config(tmp_path / "run", steps=4))
    with pytest.raises(Exception, match="--resume"):
        guide.train(_config(tmp_path / "run", steps=6))
    guide.train(replace(_config(tmp_path / "run", steps=4), resume=True, quiet=False))
    assert "nothing to train" in capsys.readouterr().err


def test_a_signal_stops_every_rank_with_a_checkpoint_and_no_export(tmp_path, guide, monkeypatch):
    from pixelsmith.training import session as session_mod

    real_iterate = session_mod.TrainingSession.iterate

    def iterate(session, start):
        for step in real_iterate(session, start):
            if step == 2:
                os.kill(os.getpid(), signal.SIGTERM)
            yield step

    monkeypatch.setattr(session_mod.TrainingSession, "iterate", iterate)
    guide.train(_config(tmp_path / "run", steps=100))
    assert session_mod.stop_signal() == signal.SIGTERM
    assert [p.name for p in (tmp_path / "run").glob("checkpoint-*")] == ["checkpoint-00000002.safetensors"]
    assert not (tmp_path / "run" / "restorer.safetensors").exists()
    monkeypatch.undo()
    guide.train(replace(_config(tmp_path / "run", steps=5), resume=True))
    assert load_checkpoint(tmp_path / "run" / "checkpoint-00000005.safetensors").step == 5


def test_the_guide_gan_example_is_the_scaffolding():
    # the guide's GAN plugin defines its own networks (no other plugin needed); tests/test_plugin_guide.py
    # also trains it
    module = _module(_training_blocks()[1], "guide_gan")
    specs = module.pixelsmith_register_generators()
    assert [(s.name, s.conditional, s.output_shape) for s in specs] == [
        ("my-gan", False, (1, 28, 28)), ("my-gan-cond", True, (1, 28, 28))]
    assert "hidden" in specs[0].train.options and "num_classes" in specs[1].train.options
    assert "self_condition" in specs[0].train.options  # the shared trainer's options come with the scaffolding
