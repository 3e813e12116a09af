"""The adapter's parts: devices, batch handling, in-memory batches, seeding scope."""

from __future__ import annotations

from collections import namedtuple

import numpy as np
import pytest
import torch

import bayestune as bt
from bayestune.training import TensorBatches, resolve_device, to_device, unpack_batch
from bayestune.training.data import batch_size_of, forward, make_loader
from bayestune.training.device import seeded


def test_auto_picks_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device(None) == torch.device("cpu")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    assert resolve_device("auto") == torch.device("cuda", 0)


def test_explicit_devices_are_checked(monkeypatch):
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    with pytest.raises(bt.InvalidValueError, match="'gpu'"):
        resolve_device("gpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(bt.InvalidValueError, match="CUDA is not available"):
        resolve_device("cuda")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(bt.InvalidValueError, match="MPS is not available"):
        resolve_device("mps")


def test_unpack_batch_handles_tuples_lists_and_dicts():
    x, y, z = torch.zeros(2, 3), torch.ones(2), torch.full((2, 1), 2.0)
    assert unpack_batch((x, y)) == (x, y)
    assert unpack_batch([x, y]) == (x, y)
    inputs, target = unpack_batch((x, z, y))
    assert inputs == (x, z) and target is y
    inputs, target = unpack_batch({"input_ids": x, "attention_mask": z, "labels": y})
    assert inputs == {"input_ids": x, "attention_mask": z} and target is y
    assert unpack_batch({"image": x, "target": y})[1] is y
    with pytest.raises(bt.InvalidValueError, match="labels"):
        unpack_batch({"image": x})
    with pytest.raises(bt.InvalidValueError, match="batch_fn"):
        unpack_batch(x)
    with pytest.raises(bt.InvalidValueError, match="batch_fn"):
        unpack_batch((x,))


def test_forward_passes_tuples_positionally_and_dicts_by_name():
    calls = []

    def model(*args, **kwargs):
        calls.append((args, kwargs))

    forward(model, 1)
    forward(model, (1, 2))
    forward(model, {"a": 1})
    assert calls == [((1,), {}), ((1, 2), {}), ((), {"a": 1})]


def test_to_device_walks_containers_and_keeps_their_types():
    Pair = namedtuple("Pair", "a b")
    x = torch.zeros(2)
    out = to_device({"p": Pair(x, [x, (x, "tag")]), "n": 3}, torch.device("cpu"))
    assert isinstance(out["p"], Pair) and isinstance(out["p"].b, list)
    assert out["p"].b[1][1] == "tag" and out["n"] == 3
    assert torch.equal(out["p"].a, x)


def test_batch_size_of_finds_the_first_dimension():
    assert batch_size_of(torch.zeros(5, 2), torch.zeros(5)) == 5
    assert batch_size_of({"ids": torch.zeros(7, 3)}, None) == 7
    assert batch_size_of((torch.zeros(4), torch.zeros(4)), [torch.zeros(4)]) == 4
    assert batch_size_of("text", None) == 1


def test_tensor_batches_slice_and_shuffle_with_their_generator():
    X = torch.arange(10).float().unsqueeze(1)
    y = torch.arange(10)
    plain = list(TensorBatches((X, y), 4))
    assert [len(b[1]) for b in plain] == [4, 4, 2] and len(TensorBatches((X, y), 4)) == 3
    assert torch.equal(torch.cat([b[1] for b in plain]), y)
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    a = [b[1] for b in TensorBatches((X, y), 4, shuffle=True, generator=g1)]
    b = [b[1] for b in TensorBatches((X, y), 4, shuffle=True, generator=g2)]
    assert all(torch.equal(u, v) for u, v in zip(a, b, strict=False))
    assert sorted(torch.cat(a).tolist()) == list(range(10))
    assert not torch.equal(torch.cat(a), y)
    for xb, yb in TensorBatches((X, y), 3, shuffle=True, generator=g1):
        assert torch.equal(xb[:, 0].long(), yb)  # rows stay paired


def test_tensor_batches_convert_arrays_and_check_lengths():
    xb, yb = next(iter(TensorBatches((np.zeros((4, 2)), np.arange(4)), 2)))
    assert xb.dtype == torch.float32 and yb.dtype == torch.int64
    with pytest.raises(bt.InvalidValueError, match="first dimension"):
        TensorBatches((np.zeros((4, 2)), np.arange(5)), 2)
    with pytest.raises(bt.InvalidValueError, match="no examples"):
        TensorBatches((np.zeros((0, 2)),), 2)


def test_make_loader_builds_what_the_data_need():
    X, y = torch.zeros(8, 2), torch.zeros(8)
    cpu = torch.device("cpu")
    kw = {"shuffle": True, "generator": None, "device": cpu}
    assert isinstance(make_loader((X, y), 4, **kw), TensorBatches)
    ds = torch.utils.data.TensorDataset(X, y)
    loader = make_loader(ds, 4, **kw)
    assert isinstance(loader, torch.utils.data.DataLoader) and loader.batch_size == 4
    ready = torch.utils.data.DataLoader(ds, batch_size=2)
    assert make_loader(ready, 4, **kw) is ready
    batches = [(X, y)]
    assert make_loader(batches, 4, **kw) is batches
    with pytest.raises(bt.InvalidValueError, match="one-shot iterator"):
        make_loader(iter(batches), 4, **kw)  # a one-shot iterator cannot serve two epochs
    with pytest.raises(bt.InvalidValueError, match="str"):
        make_loader("data.csv", 4, **kw)


def test_seeded_forks_only_what_it_seeds():
    torch.manual_seed(3)
    before = torch.get_rng_state()
    with seeded(0, torch.device("cpu")):
        a = torch.rand(3)
    with seeded(0, torch.device("cpu")):
        b = torch.rand(3)
    assert torch.equal(a, b)
    assert torch.equal(torch.get_rng_state(), before)
    with seeded(None, torch.device("cpu")):
        torch.rand(1)
    assert not torch.equal(torch.get_rng_state(), before)  # unseeded: the caller's stream
