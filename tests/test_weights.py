"""Weights I/O: sha256 checks, truncated files, shape mismatches, atomic writes, no pickle."""

import hashlib

import pytest
import torch

from pixelsmith.errors import WeightsError
from pixelsmith.specs import WeightsFile
from pixelsmith.weights import atomic_write_bytes, load_into, load_weights, read_metadata, save_weights, sha256_of


def test_round_trip_and_sha256(tmp_path):
    tensors = {"a": torch.arange(6.0).reshape(2, 3), "b": torch.ones(4, dtype=torch.int64)}
    path = tmp_path / "w.safetensors"
    digest = save_weights(path, tensors, {"config": {"width": 3}})
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest() == sha256_of(path)
    loaded = load_weights(WeightsFile(path, digest))
    assert torch.equal(loaded["a"], tensors["a"]) and torch.equal(loaded["b"], tensors["b"])
    assert read_metadata(path)["config"] == '{"width": 3}'


def test_wrong_sha256_names_file_and_both_digests(tmp_path):
    path = tmp_path / "w.safetensors"
    digest = save_weights(path, {"a": torch.zeros(2)})
    with pytest.raises(WeightsError) as info:
        load_weights(path, sha256="f" * 64)
    message = str(info.value)
    assert str(path) in message and digest in message and "f" * 64 in message


def test_truncated_file_is_a_clear_error(tmp_path):
    path = tmp_path / "w.safetensors"
    save_weights(path, {"a": torch.zeros(1000)})
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(WeightsError, match="truncated"):
        load_weights(path)


def test_missing_file(tmp_path):
    with pytest.raises(WeightsError, match="does not exist"):
        load_weights(tmp_path / "nope.safetensors")


def test_pickle_file_is_refused(tmp_path):
    path = tmp_path / "model.pt"
    torch.save({"a": torch.zeros(2)}, path)
    with pytest.raises(WeightsError):
        load_weights(path)


def test_load_into_lists_what_differs():
    model = torch.nn.Linear(3, 2)
    state = {"weight": torch.zeros(5, 3), "extra": torch.zeros(1)}
    with pytest.raises(WeightsError) as info:
        load_into(model, state, source="file.safetensors")
    text = str(info.value)
    assert "missing ['bias']" in text and "unexpected ['extra']" in text and "weight: file (5, 3) vs model (2, 3)" in text


def test_atomic_write_leaves_no_temp_files_and_replaces(tmp_path):
    target = tmp_path / "sub" / "f.bin"
    atomic_write_bytes(target, b"one")
    atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["f.bin"]
