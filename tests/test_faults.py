"""Faults of long runs: SIGKILL then --resume, SIGINT/SIGTERM checkpoints, kills during checkpoint
writes, damaged checkpoint and weights files, interrupted folder restores, no pickle anywhere."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from pixelsmith.errors import WeightsError
from pixelsmith.training import TrainConfig
from pixelsmith.training.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint, verify_checkpoint
from pixelsmith.training.session import TrainingSession
from pixelsmith.weights import load_weights, save_weights
from train_runs import TINY_DCGAN, TINY_UNET, child_env, pixelsmith_cmd, run_pixelsmith, write_tiny_mnist

REPO = Path(__file__).resolve().parents[1]


def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen(pixelsmith_cmd(*args), env=child_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for_checkpoint(proc: subprocess.Popen, out: Path, timeout: float = 120) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = latest_checkpoint(out) if out.exists() else None
        if found is not None:
            return found
        if proc.poll() is not None:
            raise AssertionError(f"training exited ({proc.returncode}) before its first checkpoint:\n"
                                 f"{proc.communicate()[1][-3000:]}")
        time.sleep(0.02)
    proc.kill()
    raise AssertionError(f"no checkpoint in {out} after {timeout}s")


def _trainer_args(name: str, tmp_path: Path) -> list[str]:
    if name == "unet-denoise":
        # pin the cosine horizon: the killed run was asked for more steps than the comparison runs
        return ["--batch-size", "4", "--sample-every", "1000", *TINY_UNET, "schedule_steps=40"]
    data = write_tiny_mnist(tmp_path / "data")
    return ["--data", str(data), "--batch-size", "8", "--sample-every", "1000", *TINY_DCGAN]


def _max_difference(a: Path, b: Path) -> float:
    ta, tb = load_checkpoint(a).tensors, load_checkpoint(b).tensors
    assert sorted(ta) == sorted(tb)
    return max(float((ta[k].double() - tb[k].double()).abs().max()) if ta[k].numel() else 0.0 for k in ta)


@pytest.mark.parametrize("name", ["unet-denoise", "dcgan"])
def test_sigkill_then_resume_matches_uninterrupted_run(name, tmp_path):
    extra = _trainer_args(name, tmp_path)
    killed = tmp_path / "killed"
    proc = _start("train", name, "--steps", "100000", "--checkpoint-every", "2", "--out", str(killed), *extra)
    try:
        _wait_for_checkpoint(proc, killed)
        time.sleep(0.3)  # usually lands mid-step or mid-write, which is the point
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    last = latest_checkpoint(killed)
    start = load_checkpoint(last).step   # the newest complete checkpoint; temp files never count
    final = start + 4

    resumed = run_pixelsmith("train", name, "--resume", "--steps", str(final), "--checkpoint-every", "2",
                             "--out", str(killed), *extra)
    assert f"resuming from {last.name} at step {start}" in resumed.stderr
    straight = tmp_path / "straight"
    run_pixelsmith("train", name, "--steps", str(final), "--checkpoint-every", "2", "--out", str(straight), *extra)

    a, b = latest_checkpoint(killed), latest_checkpoint(straight)
    assert load_checkpoint(a).step == load_checkpoint(b).step == final
    # model, EMA, optimiser moments and step counters: the resumed run is the uninterrupted run
    difference = _max_difference(a, b)
    print(f"{name}: killed, resumed from step {start} to {final}; max |resumed - uninterrupted| = {difference:g}")
    assert difference <= 1e-6
    assert load_checkpoint(a).metadata["ema_updates"] == load_checkpoint(b).metadata["ema_updates"]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_writes_a_final_checkpoint(sig, tmp_path):
    out = tmp_path / "run"
    proc = _start("train", "unet-denoise", "--steps", "100000", "--checkpoint-every", "1000",
                  "--sample-every", "100000", "--batch-size", "2", "--out", str(out), *TINY_UNET)
    try:
        # the first step has run once log.jsonl exists (the session opens it before the loop)
        deadline = time.monotonic() + 120
        while not (out / "log.jsonl").exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.5)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    # stopped by a signal, checkpoint written: the shell's 128 + N (130 for Ctrl-C, 143 for SIGTERM)
    assert proc.returncode == 128 + sig, err[-3000:]
    assert "Traceback" not in err
    assert f"{signal.Signals(sig).name} received" in err
    stopped = re.search(r"stopped at step (\d+)", err)
    assert stopped, err[-3000:]
    ckpt = latest_checkpoint(out)
    assert ckpt is not None and load_checkpoint(ckpt).step == int(stopped.group(1)) >= 1


def test_dcgan_sigterm_writes_a_final_checkpoint(tmp_path):
    out = tmp_path / "run"
    proc = _start("train", "dcgan", "--steps", "100000", "--checkpoint-every", "1000", "--sample-every", "100000",
                  *_trainer_args("dcgan", tmp_path), "--out", str(out))
    try:
        deadline = time.monotonic() + 120
        while not (out / "log.jsonl").exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, err[-3000:]
    ckpt = latest_checkpoint(out)
    assert ckpt is not None and load_checkpoint(ckpt).step >= 1
    assert "continue with --resume" in err


def test_a_doubled_signal_counts_once_but_a_later_second_one_stops_at_once(tmp_path):
    session = TrainingSession(TrainConfig(out=tmp_path, quiet=True), "x")
    session._on_signal(signal.SIGTERM, None)
    session._on_signal(signal.SIGTERM, None)  # SLURM and torchrun both deliver it: no abort
    assert session.should_stop()
    session._first_signal_at -= 5  # the user presses Ctrl-C again, seconds later
    with pytest.raises(KeyboardInterrupt):
        session._on_signal(signal.SIGINT, None)


# -- checkpoint files ------------------------------------------------------------------------------

def _tiny_checkpoint(folder: Path, step: int) -> Path:
    torch.manual_seed(step)
    path = folder / f"checkpoint-{step:08d}.safetensors"
    save_checkpoint(path, step=step, modules={"model": torch.nn.Linear(3, 4)}, metadata={"component": "x"})
    return path


def test_leftover_temp_files_of_a_killed_write_are_ignored(tmp_path):
    good = _tiny_checkpoint(tmp_path, 4)
    # what a SIGKILL between write and rename leaves: a hidden temp file with half a checkpoint
    (tmp_path / ".checkpoint-00000006.safetensors.k3j2.tmp").write_bytes(good.read_bytes()[:50])
    assert latest_checkpoint(tmp_path) == good
    session = TrainingSession(TrainConfig(out=tmp_path, resume=True, quiet=True), "x")
    assert session.resume_checkpoint().step == 4


def test_interrupted_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = _tiny_checkpoint(tmp_path, 2)
    before = path.read_bytes()

    def killed(*_args):
        raise KeyboardInterrupt  # the moment between writing the temp file and renaming it

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, step=3, modules={"model": torch.nn.Linear(3, 4)})
    monkeypatch.undo()
    assert path.read_bytes() == before
    # the temp files were removed, and the manifest still vouches for the checkpoint that is there
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name, "checkpoints.sha256"]
    assert verify_checkpoint(path) == "verified"


def test_atomic_writes_get_ordinary_file_modes(tmp_path):
    from pixelsmith.weights import atomic_write_bytes

    umask = os.umask(0o022)
    try:
        fresh = atomic_write_bytes(tmp_path / "a.bin", b"x")
        assert fresh.stat().st_mode & 0o777 == 0o644  # not mkstemp's private 0600
        os.chmod(fresh, 0o640)
        atomic_write_bytes(fresh, b"y")
        assert fresh.stat().st_mode & 0o777 == 0o640 and fresh.read_bytes() == b"y"
    finally:
        os.umask(umask)


@pytest.mark.parametrize("keep", [0, 7, 60, -10])
def test_truncated_checkpoint_names_the_file_and_the_sizes(tmp_path, keep):
    path = _tiny_checkpoint(tmp_path, 1)
    data = path.read_bytes()
    path.write_bytes(data[:keep] if keep >= 0 else data[:keep])
    with pytest.raises(WeightsError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert str(path) in message
    assert "truncated" in message and "bytes" in message


def test_resume_from_a_damaged_latest_checkpoint_falls_back_and_says_so(tmp_path):
    _tiny_checkpoint(tmp_path, 2)
    bad = _tiny_checkpoint(tmp_path, 4)
    bad.write_bytes(bad.read_bytes()[:-20])
    session = TrainingSession(TrainConfig(out=tmp_path, resume=True, quiet=True), "x")
    with pytest.warns(UserWarning, match=r"checkpoint-00000004.*corrupt.*resuming from "
                                         r"checkpoint-00000002.*kept as checkpoint-00000004.safetensors.corrupt"):
        assert session.resume_checkpoint().step == 2
    # set aside: neither rotation nor the next --resume takes it for the newest
    assert latest_checkpoint(tmp_path).name == "checkpoint-00000002.safetensors"
    assert (tmp_path / "checkpoint-00000004.safetensors.corrupt").exists()


def test_nothing_intact_to_resume_from_is_an_error_naming_each_file(tmp_path):
    bad = _tiny_checkpoint(tmp_path, 4)
    bad.write_bytes(bad.read_bytes()[:-20])
    session = TrainingSession(TrainConfig(out=tmp_path, resume=True, quiet=True), "x")
    with pytest.raises(WeightsError, match=r"no checkpoint in .* is intact .*checkpoint-00000004"):
        session.resume_checkpoint()


def test_wrong_shapes_and_wrong_sha256_name_the_file_and_the_difference(tmp_path):
    path = _tiny_checkpoint(tmp_path, 1)
    with pytest.raises(WeightsError) as info:
        load_checkpoint(path).load_module("model", torch.nn.Linear(3, 5))
    assert str(path) in str(info.value) and "weight: file (4, 3) vs model (5, 3)" in str(info.value)

    weights = tmp_path / "w.safetensors"
    sha = save_weights(weights, {"w": torch.ones(2)})
    wrong = "0" * 64
    with pytest.raises(WeightsError) as info:
        load_weights(weights, sha256=wrong)
    assert str(weights) in str(info.value) and sha in str(info.value) and wrong in str(info.value)


def test_nothing_unpickles():
    """No pickle: no pickle/torch.load/np.load(allow_pickle) in the shipped code (torch.load only weights_only)."""
    sources = [*(REPO / "core").rglob("*.py"), *(REPO / "plugins").glob("*/src/**/*.py")]
    offenders = []
    for path in sources:
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"torch\.load\(([^)]*)\)|\bpickle\.loads?\(|\bdill\.|\bjoblib\.load|"
                                 r"allow_pickle\s*=\s*True|\bcloudpickle\b", text):
            if match.group(0).startswith("torch.load") and "weights_only=True" in (match.group(1) or ""):
                continue
            offenders.append(f"{path.relative_to(REPO)}: {match.group(0)}")
    assert not offenders, offenders


# -- folder restore ----------------------------------------------------------------------------------

def _digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_interrupted_folder_restore_resumes(tmp_path):
    import imageio.v3 as iio

    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(300):
        iio.imwrite(src / ("sub" if i % 3 else "") / f"img{i:03d}.png",
                    rng.integers(0, 256, (24, 20), dtype=np.uint8))
    inputs = _digest(src)

    full = tmp_path / "full"
    run_pixelsmith("restore", "median", str(src), "-o", str(full), "--quiet")

    out = tmp_path / "out"
    proc = _start("restore", "median", str(src), "-o", str(out), "--quiet")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists() and sum(1 for _ in out.rglob("*.png")) >= 5:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    written = sum(1 for _ in out.rglob("*.png"))
    assert 0 < written, "the kill came before any output"
    # what a kill mid-write may leave: a hidden temp file, which a rerun must not mistake for an output
    (out / ".img999.png.x1.tmp").write_bytes(b"\x89PNG half")

    again = run_pixelsmith("restore", "median", str(src), "-o", str(out))
    if written < 300:
        assert f"skipped {written} existing output(s)" in again.stderr
        assert f"restored {300 - written} image(s)" in again.stderr
    resumed = {k: v for k, v in _digest(out).items() if not k.startswith(".")}
    assert resumed == _digest(full)          # every output, byte for byte as an uninterrupted run
    assert _digest(src) == inputs            # inputs untouched
