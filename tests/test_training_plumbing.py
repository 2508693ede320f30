"""Checkpoints, EMA and the training session's seeds and data order."""

import pytest
import torch

from pixelsmith.errors import TrainingError, WeightsError
from pixelsmith.training import EMA, TrainConfig, TrainingSession, latest_checkpoint, load_checkpoint
from pixelsmith.training.checkpoint import save_checkpoint
from pixelsmith.weights import save_weights


def _trained_model():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(3):
        opt.zero_grad()
        model(torch.randn(16, 4)).pow(2).mean().backward()
        opt.step()
    return model, opt


def test_checkpoint_round_trip_restores_model_optimizer_and_rng(tmp_path):
    model, opt = _trained_model()
    gen = torch.Generator().manual_seed(7)
    path = save_checkpoint(tmp_path / "checkpoint-00000003.safetensors", step=3, modules={"model": model},
                           optimizers={"opt": opt}, rng={"gen": gen.get_state()}, metadata={"note": "x"})
    assert len(path) == 64
    ckpt = load_checkpoint(tmp_path / "checkpoint-00000003.safetensors")
    assert ckpt.step == 3 and ckpt.metadata["note"] == "x"

    fresh = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 1))
    fresh_opt = torch.optim.Adam(fresh.parameters(), lr=1e-2)
    ckpt.load_module("model", fresh)
    ckpt.load_optimizer("opt", fresh_opt)
    for a, b in zip(model.state_dict().values(), fresh.state_dict().values()):
        assert torch.equal(a, b)
    # the next optimisation step is identical from the restored state
    x = torch.randn(16, 4, generator=torch.Generator().manual_seed(1))
    for m, o in ((model, opt), (fresh, fresh_opt)):
        o.zero_grad()
        m(x).pow(2).mean().backward()
        o.step()
    for a, b in zip(model.parameters(), fresh.parameters()):
        assert torch.equal(a, b)
    restored = torch.Generator()
    restored.set_state(ckpt.tensors["rng.gen"])
    assert torch.equal(torch.rand(3, generator=restored), torch.rand(3, generator=gen))


def test_checkpoint_with_wrong_shapes_names_the_parameter(tmp_path):
    model, opt = _trained_model()
    save_checkpoint(tmp_path / "c.safetensors", step=1, modules={"model": model})
    other = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.BatchNorm1d(6), torch.nn.Linear(6, 1))
    with pytest.raises(WeightsError, match=r"0.weight: file \(8, 4\) vs model \(6, 4\)"):
        load_checkpoint(tmp_path / "c.safetensors").load_module("model", other)


def test_plain_safetensors_is_not_taken_for_a_checkpoint(tmp_path):
    save_weights(tmp_path / "w.safetensors", {"a": torch.zeros(1)})
    with pytest.raises(WeightsError, match="not a pixelsmith training checkpoint"):
        load_checkpoint(tmp_path / "w.safetensors")


def test_latest_checkpoint_ignores_temp_files(tmp_path):
    model, _ = _trained_model()
    for step in (5, 20, 10):
        save_checkpoint(tmp_path / f"checkpoint-{step:08d}.safetensors", step=step, modules={"m": model})
    (tmp_path / ".checkpoint-00000030.safetensors.abc.tmp").write_bytes(b"partial")
    assert latest_checkpoint(tmp_path).name == "checkpoint-00000020.safetensors"


def test_ema_tracks_average_and_copies_buffers():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    ema = EMA(model, decay=0.5)
    before = [p.clone() for p in ema.shadow.parameters()]
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
        model[1].running_mean.fill_(3.0)
    ema.update(model)
    d = min(0.5, 2 / 11)
    for b, s, p in zip(before, ema.shadow.parameters(), model.parameters()):
        assert torch.allclose(s, d * b + (1 - d) * p)
    assert torch.equal(ema.shadow[1].running_mean, torch.full((2,), 3.0))
    assert not any(p.requires_grad for p in ema.shadow.parameters())


def test_batch_indices_split_the_global_batch_across_ranks(tmp_path, monkeypatch):
    cfg1 = TrainConfig(out=tmp_path / "a", batch_size=8, seed=3, quiet=True)
    single = TrainingSession(cfg1, "x")
    cfg2 = TrainConfig(out=tmp_path / "b", batch_size=4, seed=3, quiet=True)
    halves = []
    for rank in (0, 1):
        session = TrainingSession(cfg2, "x")
        session.rank, session.world_size = rank, 2  # only the data split is under test, no process group
        halves.append(session)
    for step in (1, 2, 7, 13):
        whole = single.batch_indices(step, 50)
        split = torch.cat([s.batch_indices(step, 50) for s in halves])
        assert torch.equal(whole, split)
        assert len(set(whole.tolist())) == 8  # no repeats inside a batch


def test_batch_indices_cover_each_epoch_and_are_reproducible(tmp_path):
    session = TrainingSession(TrainConfig(out=tmp_path, batch_size=5, seed=1, quiet=True), "x")
    epoch = torch.cat([session.batch_indices(step, 20) for step in range(4)])
    assert sorted(epoch.tolist()) == list(range(20))
    assert torch.equal(session.batch_indices(9, 20), session.batch_indices(9, 20))
    tiny = session.batch_indices(0, 3)
    assert len(tiny) == 5 and set(tiny.tolist()) <= {0, 1, 2}


def test_step_generator_depends_on_step_seed_and_stream_only(tmp_path):
    s = TrainingSession(TrainConfig(out=tmp_path, seed=1, quiet=True), "x")
    draw = lambda g: torch.rand(4, generator=g)
    torch.manual_seed(123)
    a = draw(s.step_generator(5))
    torch.manual_seed(999)  # the global RNG must not matter
    assert torch.equal(a, draw(s.step_generator(5)))
    assert not torch.equal(a, draw(s.step_generator(6)))
    assert not torch.equal(a, draw(s.step_generator(5, "other")))


def test_existing_run_is_not_overwritten_without_resume(tmp_path):
    model, _ = _trained_model()
    save_checkpoint(tmp_path / "checkpoint-00000004.safetensors", step=4, modules={"m": model},
                    metadata={"component": "x"})
    with TrainingSession(TrainConfig(out=tmp_path, quiet=True), "x") as s:
        with pytest.raises(TrainingError, match="pass --resume"):
            s.resume_checkpoint()
    with TrainingSession(TrainConfig(out=tmp_path, quiet=True, resume=True), "x") as s:
        assert s.resume_checkpoint().step == 4
    with TrainingSession(TrainConfig(out=tmp_path, quiet=True, resume=True), "other") as s:
        with pytest.raises(TrainingError, match="written by a x run"):
            s.resume_checkpoint()


def test_session_keeps_only_the_newest_checkpoints(tmp_path):
    model, opt = _trained_model()
    with TrainingSession(TrainConfig(out=tmp_path, quiet=True), "x", keep_checkpoints=2) as s:
        for step in (1, 2, 3):
            s.save(step, modules={"m": model}, optimizers={"o": opt})
    names = sorted(p.name for p in tmp_path.glob("checkpoint-*.safetensors"))
    assert names == ["checkpoint-00000002.safetensors", "checkpoint-00000003.safetensors"]


def test_bad_config_values_are_rejected(tmp_path):
    with pytest.raises(TrainingError, match="--steps"):
        TrainingSession(TrainConfig(out=tmp_path, steps=0), "x")
    with pytest.raises(TrainingError, match="--batch-size"):
        TrainingSession(TrainConfig(out=tmp_path, batch_size=0), "x")
