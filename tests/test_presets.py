"""Rule-of-thumb search spaces and the classic starting configurations."""

from __future__ import annotations

import pytest

import bayestune as bt
from bayestune.presets import BATCH_SIZES, deep_learning_space, default_configs
from bayestune.training import OPTIMIZERS


def test_the_adam_space_holds_the_practitioners_ranges():
    space = deep_learning_space("adam")
    assert space.names == ("optimizer", "lr", "weight_decay", "batch_size", "dropout")
    assert space["optimizer"].choices == ("adam",)
    lr = space["lr"]
    assert lr.log and lr.low <= 1e-3 and lr.high >= 1e-2  # 1e-3..1e-2, with a margin
    assert lr.contains(3e-4) and lr.contains(1e-3)  # Karpathy's and the Adam paper's
    wd = space["weight_decay"]
    assert wd.log and wd.contains(1e-4) and wd.high <= 1e-3
    assert space["batch_size"].choices == (16, 32, 64, 128, 256, 512, 1024)
    assert (space["dropout"].low, space["dropout"].high) == (0.0, 0.5)


@pytest.mark.parametrize("optimizer, core", [
    ("sgd", (1e-2, 1e-1)),
    ("momentum", (1e-3, 1e-2)),
    ("nesterov", (1e-3, 1e-2)),
    ("adam", (1e-3, 1e-2)),
    ("adamw", (1e-3, 1e-2)),
    ("rmsprop", (1e-3, 1e-2)),
])
def test_lr_ranges_cover_each_optimizers_usual_range_with_a_margin(optimizer, core):
    lr = deep_learning_space(optimizer)["lr"]
    assert lr.low < core[0] and lr.high > core[1]
    assert lr.high / lr.low <= 1e4  # not a blind search over every scale
    tuned = deep_learning_space(optimizer, fine_tune=True)["lr"]
    assert 10 <= lr.low / tuned.low <= 100 and 10 <= lr.high / tuned.high <= 100


def test_momentum_is_searched_near_0_9_for_the_momentum_optimizers():
    for name in ("momentum", "nesterov"):
        m = deep_learning_space(name)["momentum"]
        assert m.low < 0.9 < m.high < 1.0 and m.default == 0.9
    assert "momentum" not in deep_learning_space("sgd")
    assert "momentum" not in deep_learning_space("adam")


def test_adamw_searches_decoupled_weight_decay_higher():
    wd = deep_learning_space("adamw")["weight_decay"]
    assert wd.contains(1e-2) and wd.high >= 1e-1


def test_betas_and_eps_on_request():
    space = deep_learning_space("adam", include=["lr", "beta1", "beta2", "eps"])
    assert space.names == ("optimizer", "lr", "beta1", "beta2", "eps")
    assert space["beta1"].contains(0.9) and space["beta2"].contains(0.999)
    assert space["beta1"].default == 0.9 and space["beta2"].default == 0.999
    assert space["eps"].log and space["eps"].default == 1e-8


def test_several_optimizers_make_a_categorical_over_the_hull_of_their_ranges():
    space = deep_learning_space(["sgd", "adam", "momentum"])
    assert space["optimizer"].choices == ("sgd", "adam", "momentum")
    lr = space["lr"]
    assert lr.low == deep_learning_space("adam")["lr"].low
    assert lr.high == deep_learning_space("sgd")["lr"].high
    assert "momentum" in space


def test_batch_sizes_can_be_capped():
    space = deep_learning_space("sgd", batch_sizes=[128, 32, 64])
    assert space["batch_size"].choices == (32, 64, 128)
    assert BATCH_SIZES == tuple(2 ** k for k in range(4, 11))


@pytest.mark.parametrize("kwargs, bad", [
    ({"optimizer": "adagrad"}, "'adagrad'"),
    ({"optimizer": ["adam", "lion"]}, "'lion'"),
    ({"optimizer": []}, "optimizer"),
    ({"optimizer": 3}, "3"),
    ({"include": ["lr", "width"]}, "'width'"),
    ({"include": ["dropout"]}, "'lr'"),
    ({"optimizer": "sgd", "include": ["lr", "beta1"]}, "'beta1'"),
    ({"batch_sizes": [0, 32]}, "0"),
    ({"batch_sizes": []}, "batch_sizes"),
])
def test_bad_names_raise_a_typed_error_naming_the_value(kwargs, bad):
    with pytest.raises(bt.InvalidValueError, match=bad):
        deep_learning_space(**kwargs)
    with pytest.raises(bt.InvalidValueError, match=bad):
        default_configs(**kwargs)


def test_default_configs_are_the_classic_starting_points():
    adam = default_configs("adam")
    assert [c["lr"] for c in adam] == [3e-4, 1e-3]  # Karpathy; Kingma and Ba
    assert all(c["batch_size"] == 32 and c["dropout"] == 0.0 for c in adam)
    (sgd,) = default_configs("momentum")
    assert sgd["momentum"] == 0.9 and sgd["lr"] == 1e-2
    (adamw,) = default_configs("adamw")
    assert adamw["weight_decay"] == 1e-2
    betas = default_configs("adam", include=["lr", "beta1", "beta2", "eps"])[0]
    assert (betas["beta1"], betas["beta2"], betas["eps"]) == (0.9, 0.999, 1e-8)
    tuned = default_configs("adam", fine_tune=True)
    assert [c["lr"] for c in tuned] == [3e-5, 5e-5]  # BERT's fine-tuning range


@pytest.mark.parametrize("optimizer", [*OPTIMIZERS, ["sgd", "adamw"], list(OPTIMIZERS)])
@pytest.mark.parametrize("fine_tune", [False, True])
def test_default_configs_fit_their_space_and_can_be_enqueued(optimizer, fine_tune):
    space = deep_learning_space(optimizer, fine_tune=fine_tune, batch_sizes=(64, 256))
    configs = default_configs(optimizer, fine_tune=fine_tune, batch_sizes=(64, 256))
    names = [optimizer] if isinstance(optimizer, str) else optimizer
    assert {c["optimizer"] for c in configs} == set(names)
    study = bt.Study(space, sampler=bt.samplers.RandomSampler(seed=0))
    for c in configs:
        study.enqueue(c)
        assert c["batch_size"] == 64  # the allowed size nearest 32
    assert study.ask().params == configs[0]
    assert space.defaults() == configs[0]  # the dimensions' defaults: the first start


def test_a_preset_space_drives_the_torch_objective():
    """Every preset name is one the adapter reads; dropout goes to the model factory."""
    torch = pytest.importorskip("torch")
    seen = {}

    def model_fn(params):
        seen.update(params)
        return torch.nn.Linear(4, 2)

    X, y = torch.randn(32, 4), torch.randint(0, 2, (32,))
    obj = bt.training.TorchObjective(model_fn, (X, y), (X, y), torch.nn.CrossEntropyLoss(),
                                     epochs=1, device="cpu")
    space = deep_learning_space("nesterov", include=["lr", "momentum", "weight_decay",
                                                     "batch_size", "dropout"])
    config = default_configs("nesterov")[0]
    result = obj.run(config)
    assert result.status == "complete"
    assert result.config.optimizer == "nesterov" and result.config.momentum == 0.9
    assert result.config.weight_decay == config["weight_decay"]
    assert result.config.batch_size == 32 and seen["dropout"] == 0.0
    assert set(space.names) <= set(bt.training.SETTINGS) | {"dropout"}


def test_default_configs_fit_a_space_narrowed_by_the_lr_range_test(caplog):
    narrowed = deep_learning_space("adam").with_bounds("lr", 0.00115, 0.115)
    with pytest.raises(bt.InvalidParamError, match="lr=0.0003"):  # enqueue stays strict
        bt.Study(narrowed).enqueue(default_configs("adam")[0])
    with caplog.at_level("INFO", logger="bayestune.presets"):
        configs = default_configs("adam", space=narrowed)
    assert configs == [{"optimizer": "adam", "lr": 0.00115, "weight_decay": 1e-6,
                        "batch_size": 32, "dropout": 0.0}]  # both Adam starts clip to 0.00115
    assert "lr=0.0003" in caplog.text and "clipped to 0.00115" in caplog.text
    study = bt.Study(narrowed, sampler=bt.samplers.RandomSampler(seed=0))
    for config in configs:
        study.enqueue(config)
    assert study.ask().params == configs[0]
    high = default_configs("adam", space=deep_learning_space("adam").with_bounds("lr", 1e-5, 2e-4))
    assert [c["lr"] for c in high] == [2e-4]


def test_default_configs_fill_drop_and_choose_to_fit_any_space(caplog):
    space = bt.Space({
        "optimizer": bt.Categorical(["adam", "momentum"]),
        "lr": bt.Float(1e-4, 1e-1, log=True),
        "batch_size": bt.Categorical([64, 256]),
        "hidden": bt.Int(16, 256, log=True, default=64),
        "depth": bt.Int(1, 5),
        "act": bt.Categorical(["relu", "gelu"]),
    })
    with caplog.at_level("INFO", logger="bayestune.presets"):
        configs = default_configs(["adam", "momentum", "sgd"], space=space)
    assert [(c["optimizer"], c["lr"]) for c in configs] == \
        [("adam", 3e-4), ("adam", 1e-3), ("momentum", 1e-2)]  # sgd is not offered
    for c in configs:
        assert set(c) == set(space.names)  # weight_decay, dropout, ... dropped
        assert c["batch_size"] == 64 and c["hidden"] == 64 and c["depth"] == 3
        assert c["act"] == "relu" and space.contains(c)
    assert "optimizer='sgd'" in caplog.text and "batch_size=32" in caplog.text
    with pytest.raises(bt.InvalidValueError, match="no classic configuration"):
        default_configs("sgd", space=space)
    with pytest.raises(bt.InvalidValueError, match="space="):
        default_configs("adam", space=space, include=["lr"])
    with pytest.raises(bt.InvalidValueError, match="Space"):
        default_configs("adam", space={"lr": bt.Float(1e-4, 1e-1)})
