"""The LR range test: exact restore, early stop, batches, and suggestions that train well
on more than one model family."""

from __future__ import annotations

import io
import math
import sys

import numpy as np
import pytest
import torch
from torch import nn

import bayestune as bt
from bayestune.lr_finder import LRRangeResult, lr_range_test, smooth_losses, suggest

pytest.importorskip("sklearn")
from dl_helpers import (  # noqa: E402
    KwMLP,
    cnn,
    digits,
    digits_tensors,
    logreg,
    mlp,
    one_torch_thread,  # noqa: F401  (fixture)
)

CE = nn.CrossEntropyLoss()


def bn_mlp() -> nn.Module:
    """Parameters, running-stat buffers and dropout: everything that can drift."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.2),
                         nn.Linear(32, 10))


def state_of(model, opt):
    return ({k: v.clone() for k, v in model.state_dict().items()},
            {k: {n: (t.clone() if torch.is_tensor(t) else t) for n, t in s.items()}
             for k, s in opt.state_dict()["state"].items()},
            [dict((k, v) for k, v in g.items() if k != "params")
             for g in opt.state_dict()["param_groups"]],
            [None if p.grad is None else p.grad.clone() for p in model.parameters()])


def assert_same(a, b):
    (ma, sa, ga, gra), (mb, sb, gb, grb) = a, b
    assert ma.keys() == mb.keys()
    for k in ma:
        assert torch.equal(ma[k], mb[k]), k  # bit for bit
    assert sa.keys() == sb.keys()
    for k in sa:
        for n in sa[k]:
            x, y = sa[k][n], sb[k][n]
            assert torch.equal(x, y) if torch.is_tensor(x) else x == y, (k, n)
    assert ga == gb
    for x, y in zip(gra, grb, strict=False):
        assert (x is None and y is None) or torch.equal(x, y)


def warmed_up(model, opt):
    """A model and optimizer with history (Adam moments, step counts, grads)."""
    Xtr, ytr, _, _ = digits_tensors()
    for i in range(3):
        opt.zero_grad()
        CE(model(Xtr[i * 32:(i + 1) * 32]), ytr[i * 32:(i + 1) * 32]).backward()
        opt.step()
    return model, opt


def test_model_and_optimizer_come_back_bit_for_bit():
    model = bn_mlp()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    warmed_up(model, opt)
    model.eval()
    before = state_of(model, opt)
    Xtr, ytr, _, _ = digits_tensors()
    result = lr_range_test(model, (Xtr, ytr), CE, optimizer=opt, num_iter=30, device="cpu")
    assert result.num_iter > 10
    assert_same(before, state_of(model, opt))
    assert not model.training  # the mode too
    assert opt.param_groups[0]["lr"] == 1e-3


def test_a_named_optimizer_leaves_the_model_exactly_as_it_was():
    model = bn_mlp()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    Xtr, ytr, _, _ = digits_tensors()
    lr_range_test(model, (Xtr, ytr), CE, optimizer="momentum", num_iter=20, device="cpu")
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])
    assert model.training


def test_the_model_is_restored_even_when_the_test_crashes():
    model = bn_mlp()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    calls = []

    def loss_fn(out, y):
        calls.append(1)
        if len(calls) == 5:
            raise RuntimeError("boom")
        return CE(out, y)

    Xtr, ytr, _, _ = digits_tensors()
    with pytest.raises(RuntimeError, match="boom"):
        lr_range_test(model, (Xtr, ytr), loss_fn, num_iter=20, device="cpu")
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])


def test_the_callers_random_state_is_untouched():
    model_a, model_b = bn_mlp(), bn_mlp()
    torch.manual_seed(7)
    before = torch.get_rng_state()
    Xtr, ytr, _, _ = digits_tensors()
    a = lr_range_test(model_a, (Xtr, ytr), CE, num_iter=20, device="cpu")
    assert torch.equal(torch.get_rng_state(), before)
    b = lr_range_test(model_b, (Xtr, ytr), CE, num_iter=20, device="cpu")
    assert a == b  # seeded: dropout and data order alike


def test_the_sweep_records_lrs_losses_and_smoothed_losses():
    Xtr, ytr, _, _ = digits_tensors()
    r = lr_range_test(mlp(), (Xtr, ytr), CE, start_lr=1e-5, end_lr=1e-2, num_iter=40,
                      device="cpu")
    assert r.num_iter == 40 and r.diverged_at is None
    assert len(r.losses) == len(r.smoothed_losses) == 40
    assert r.lrs[0] == pytest.approx(1e-5) and r.lrs[-1] == pytest.approx(1e-2)
    assert np.allclose(np.diff(np.log(r.lrs)), math.log(1e3) / 39)  # geometric
    # smoother than the raw losses (curvature, which a real descent does not dominate)
    assert np.std(np.diff(r.smoothed_losses, 2)) < 0.5 * np.std(np.diff(r.losses, 2))
    lin = lr_range_test(mlp(), (Xtr, ytr), CE, start_lr=1e-3, end_lr=1e-2, num_iter=20,
                        mode="linear", smooth=1.0, device="cpu")
    assert np.allclose(np.diff(lin.lrs), 9e-3 / 19)
    assert lin.smoothed_losses == lin.losses  # smooth=1: no smoothing
    assert lin.mode == "linear"


def test_it_stops_early_when_the_loss_diverges():
    Xtr, ytr, _, _ = digits_tensors()
    r = lr_range_test(mlp(), (Xtr, ytr), CE, optimizer="sgd", start_lr=1e-3, end_lr=1e4,
                      num_iter=100, device="cpu")
    assert r.diverged_at is not None and r.num_iter < 100
    assert r.diverged_at == r.lrs[-1]
    assert not math.isfinite(r.losses[-1]) or max(r.losses[-5:]) > 4 * min(r.losses)


def test_it_never_prints_in_a_script(capsys):
    Xtr, ytr, _, _ = digits_tensors()
    lr_range_test(mlp(), (Xtr, ytr), CE, num_iter=20, device="cpu")  # progress="auto"
    assert capsys.readouterr() == ("", "")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("progress, tty, shown", [
    ("auto", True, True), ("auto", False, False), (True, False, True), (False, True, False),
])
def test_a_progress_bar_shows_in_a_terminal_or_on_request(monkeypatch, progress, tty, shown):
    stream = _Terminal() if tty else io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    Xtr, ytr, _, _ = digits_tensors()
    lr_range_test(mlp(), (Xtr, ytr), CE, end_lr=1e-2, num_iter=20, device="cpu",
                  progress=progress)
    text = stream.getvalue()
    assert ("lr range test" in text and "20/20" in text and "loss=" in text) == shown


def test_a_bad_progress_option_is_refused():
    Xtr, ytr, _, _ = digits_tensors()
    with pytest.raises(bt.InvalidValueError, match="progress='yes'"):
        lr_range_test(mlp(), (Xtr, ytr), CE, num_iter=20, device="cpu", progress="yes")


def test_dict_batches_and_a_custom_batch_fn():
    Xtr, ytr, _, _ = digits_tensors()
    batches = [{"pixels": x, "labels": y} for x, y in zip(Xtr.split(32), ytr.split(32), strict=False)]
    r = lr_range_test(KwMLP(), batches, CE, end_lr=0.01, num_iter=50,
                      device="cpu")  # cycles through the 38 batches
    assert r.num_iter == 50
    odd = [{"img": x, "cls": y} for x, y in zip(Xtr.split(32), ytr.split(32), strict=False)]
    r2 = lr_range_test(mlp(), odd, CE, end_lr=0.01, num_iter=20, device="cpu",
                       batch_fn=lambda b: (b["img"], b["cls"]))
    assert r2.num_iter == 20
    with pytest.raises(bt.InvalidValueError, match="labels"):
        lr_range_test(mlp(), odd, CE, num_iter=20, device="cpu")


def test_a_dataloader_and_a_dataset_are_accepted():
    Xtr, ytr, _, _ = digits_tensors()
    ds = torch.utils.data.TensorDataset(Xtr, ytr)
    r = lr_range_test(mlp(), torch.utils.data.DataLoader(ds, batch_size=64, shuffle=True),
                      CE, end_lr=0.01, num_iter=25, device="cpu")
    assert r.num_iter == 25
    r = lr_range_test(mlp(), ds, CE, end_lr=0.01, num_iter=25, batch_size=16, device="cpu")
    assert r.num_iter == 25


@pytest.mark.parametrize("kw, bad", [
    ({"start_lr": 1.0, "end_lr": 0.1}, "start_lr"),
    ({"start_lr": 0.0}, "start_lr"),
    ({"num_iter": 5}, "num_iter"),
    ({"mode": "log"}, "mode"),
    ({"smooth": 0.0}, "smooth"),
    ({"diverge_factor": 1.0}, "diverge_factor"),
    ({"optimizer": "lbfgs"}, "lbfgs"),
    ({"optimizer": 3}, "optimizer"),
])
def test_bad_arguments_raise_a_typed_error_naming_them(kw, bad):
    Xtr, ytr, _, _ = digits_tensors()
    with pytest.raises(bt.InvalidValueError, match=bad):
        lr_range_test(mlp(), (Xtr, ytr), CE, device="cpu", **kw)


def test_an_optimizer_over_other_parameters_is_refused():
    other = torch.optim.SGD(mlp().parameters(), lr=0.1)
    Xtr, ytr, _, _ = digits_tensors()
    with pytest.raises(bt.InvalidValueError, match="parameters"):
        lr_range_test(mlp(), (Xtr, ytr), CE, optimizer=other, device="cpu")


def test_no_suggestion_when_the_loss_never_falls():
    Xtr, ytr, _, _ = digits_tensors()
    r = lr_range_test(mlp(), (Xtr, ytr), CE, start_lr=1e-9, end_lr=1e-8, num_iter=20,
                      device="cpu")
    assert r.suggestions == {} and r.suggested_range is None
    assert r.no_suggestion == "no_descent"
    assert r.notes and "never fell clearly" in r.notes[0] and "raise end_lr" in r.notes[0]


def test_the_reason_for_no_suggestion_is_typed():
    lrs = np.geomspace(1e-5, 1.0, 60)
    rising = np.linspace(1.0, 3.0, 60)
    assert suggest(lrs, rising, rising).no_suggestion == "rose_from_start"
    assert "lower start_lr" in suggest(lrs, rising, rising).notes[0]
    short = np.where(np.arange(60) < 5, 1.0, np.nan)
    assert suggest(lrs, short).no_suggestion == "too_few_steps"
    assert suggest(lrs, np.linspace(2.0, 1.0, 60)).no_suggestion is None


def test_suggest_reads_a_known_curve():
    lrs = np.geomspace(1e-5, 1.0, 101)
    x = np.log10(lrs)
    # falls fastest at 1e-3, bottoms out at 1e-1, then explodes
    curve = 2.0 - np.tanh((x + 3.0) * 2.0) + np.maximum(x + 1.0, 0.0) ** 2 * 50
    found = suggest(lrs, curve)
    assert found.steepest == pytest.approx(1e-3, rel=0.15)
    assert found.lr_at_min == pytest.approx(1e-1, rel=0.15)
    assert found.min_div10 == pytest.approx(found.lr_at_min / 10)
    assert found.suggested_range == (pytest.approx(1e-4, rel=0.15), found.lr_at_min)
    assert found.notes == () and found.no_suggestion is None
    # points after a non-finite value are ignored; too few points give nothing
    none = suggest(lrs, np.where(x > -4.5, np.nan, curve))
    assert (none.steepest, none.min_div10, none.lr_at_min, none.suggested_range) == \
        (None, None, None, None)


def _band(losses: np.ndarray, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """The raw loss's noise band: the lowest and highest loss within k steps."""
    n = len(losses)
    return (np.array([losses[max(0, i - k):i + k + 1].min() for i in range(n)]),
            np.array([losses[max(0, i - k):i + k + 1].max() for i in range(n)]))


def test_smoothing_follows_a_curve_without_lag():
    lrs = np.geomspace(1e-5, 1.0, 101)
    x = np.log10(lrs)
    true = 2.0 - np.tanh((x + 2.0) * 2.0) + np.maximum(x + 1.5, 0.0) ** 2 * 2
    noisy = true + np.random.default_rng(0).normal(0.0, 0.05, 101)
    sm = smooth_losses(noisy, 0.1)
    assert np.mean(np.abs(sm - true) < 0.1) >= 0.95  # within two noise deviations
    assert abs(int(np.argmin(sm)) - int(np.argmin(true))) <= 3  # a one-way average: ~10 late
    i = int(np.argmin(true))
    assert sm[i] < true[i] + 0.05  # the minimum is not smeared upwards
    assert np.std(np.diff(sm, 2)) < 0.2 * np.std(np.diff(noisy, 2))
    assert np.isnan(smooth_losses(np.array([1.0, 2.0, np.inf, 1.0]), 0.5)[2:]).all()
    assert np.array_equal(smooth_losses(noisy, 1.0), noisy)


def _wide_sweep(model_fn, optimizer, num_iter=100):
    Xtr, ytr, _, _ = digits_tensors()
    torch.manual_seed(0)
    model = model_fn()
    if optimizer == "adamw":  # with its usual decoupled decay, unlike Adam's none
        optimizer = torch.optim.AdamW(model.parameters(), weight_decay=1e-2)
    return lr_range_test(model, (Xtr, ytr), CE, optimizer=optimizer, start_lr=1e-7,
                         end_lr=10.0, num_iter=num_iter, batch_size=64, device="cpu")


def digits_mlp_unscaled_inputs() -> nn.Module:
    """The wider MLP of the notebooks, for inputs scaled to [0, 1] (a slower start)."""
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))


@pytest.mark.parametrize("model_fn", [logreg, mlp], ids=["logreg", "mlp"])
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam", "adamw"])
def test_the_smoothed_curve_lies_within_the_raw_losses_band(model_fn, optimizer):
    r = _wide_sweep(model_fn, optimizer)
    raw, sm = np.array(r.losses), np.array(r.smoothed_losses)
    n = int(np.isfinite(sm).sum())
    lo, hi = _band(raw[:n])
    inside = (sm[:n] >= lo - 1e-9) & (sm[:n] <= hi + 1e-9)
    assert inside.mean() >= 0.95, np.flatnonzero(~inside)
    i = int(np.argmin(raw[:n]))  # near the raw minimum, not decades away from it
    assert abs(math.log10(r.lr_at_min / r.lrs[i])) < 0.5
    # every one of these curves has a clear descent: each gives a suggestion
    assert r.no_suggestion is None and set(r.suggestions) == {"steepest", "min_div10"}
    assert r.suggested_range[0] < r.suggestion_steepest < r.suggested_range[1]


@pytest.mark.parametrize("num_iter", [100, 200])
def test_plain_sgd_on_an_mlp_that_falls_little_before_diverging_gets_a_suggestion(num_iter):
    """Inputs in [0, 1] (pixels / 16): the raw loss falls 13-30% before the lr blows it up."""
    from sklearn.datasets import load_digits  # noqa: PLC0415

    X, y = load_digits(return_X_y=True)
    X, y = torch.tensor(X[:1400] / 16.0, dtype=torch.float32), torch.tensor(y[:1400])
    torch.manual_seed(0)
    r = lr_range_test(digits_mlp_unscaled_inputs(), (X, y), CE, optimizer="sgd",
                      start_lr=1e-7, end_lr=10.0, num_iter=num_iter, batch_size=64,
                      device="cpu")
    raw = np.array(r.losses)
    assert np.nanmin(raw) < 0.87 * np.median(raw[:10])  # a clear descent in the raw loss
    assert r.no_suggestion is None, r.notes
    assert 1e-2 < r.suggestion_steepest < 3.0


def _val_loss(model_fn, optimizer, lr, epochs=3):
    Xtr, ytr, Xva, yva = digits()
    obj = bt.training.TorchObjective(model_fn, (Xtr, ytr), (Xva, yva), CE, epochs=epochs,
                                     device="cpu", defaults={"batch_size": 32})
    value = obj.run({"optimizer": optimizer, "lr": lr}).value
    return math.inf if value is None else value


@pytest.mark.slow
@pytest.mark.parametrize("name, model_fn, optimizer, num_iter, good, best", [
    # good: lrs that train well in 3 epochs; best: the best lr of a half-decade sweep
    # (both measured beforehand)
    ("mlp", mlp, "adam", 100, (3e-3, 5e-2), 1e-2),
    ("mlp", mlp, "sgd", 100, (1e-1, 1.5), 0.3),
    ("logreg", logreg, "sgd", 100, (5e-2, 1.5), 1.0),
    ("cnn", cnn, "adam", 300, (3e-3, 5e-2), 2e-2),  # learns slower: give it more steps
])
def test_suggestions_train_well_on_several_model_families(name, model_fn, optimizer,
                                                          num_iter, good, best):
    Xtr, ytr, _, _ = digits_tensors()
    torch.manual_seed(0)
    r = lr_range_test(model_fn(), (Xtr, ytr), CE, optimizer=optimizer, num_iter=num_iter,
                      batch_size=32, device="cpu")
    assert good[0] <= r.suggestion_steepest <= good[1]
    low, high = r.suggested_range
    assert low < best < high
    # training at either suggestion beats training 100x below it; the steepest trains well
    at = _val_loss(model_fn, optimizer, r.suggestion_steepest)
    assert at < 0.6 and at < _val_loss(model_fn, optimizer, r.suggestion_steepest / 100)
    at = _val_loss(model_fn, optimizer, r.suggestion_min_div10)
    assert at < _val_loss(model_fn, optimizer, r.suggestion_min_div10 / 100)


def test_a_result_narrows_the_lr_range_of_a_space():
    Xtr, ytr, _, _ = digits_tensors()
    r = lr_range_test(mlp(), (Xtr, ytr), CE, optimizer="adam", batch_size=32, device="cpu")
    space = bt.presets.deep_learning_space("adam").with_bounds("lr", *r.suggested_range)
    assert (space["lr"].low, space["lr"].high) == r.suggested_range
    assert space["lr"].log
    study = bt.Study(space, sampler=bt.samplers.RandomSampler(seed=0))
    trial = study.ask()
    assert r.suggested_range[0] <= trial.params["lr"] <= r.suggested_range[1]


def test_the_result_is_frozen_and_serializable():
    import json

    Xtr, ytr, _, _ = digits_tensors()
    r = lr_range_test(mlp(), (Xtr, ytr), CE, optimizer="sgd", start_lr=1e-3, end_lr=1e4,
                      device="cpu")
    assert isinstance(r, LRRangeResult)
    with pytest.raises(AttributeError):
        r.lrs = ()
    d = json.loads(json.dumps(r.to_dict()))
    assert d["lrs"] == list(r.lrs) and d["mode"] == "exp"
    assert set(r.suggestions) <= {"steepest", "min_div10"}


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_on_cuda_the_model_comes_back_bit_for_bit_on_its_device():
    for home in ("cpu", "cuda"):
        model = bn_mlp().to(home)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        Xtr, ytr, _, _ = digits_tensors()
        opt.zero_grad()
        CE(model(Xtr[:32].to(home)), ytr[:32].to(home)).backward()
        opt.step()
        before = state_of(model, opt)
        r = lr_range_test(model, (Xtr, ytr), CE, optimizer=opt, num_iter=30, device="cuda")
        assert r.num_iter > 10
        assert next(model.parameters()).device.type == home
        assert opt.state[next(iter(model.parameters()))]["exp_avg"].device.type == home
        assert_same(before, state_of(model, opt))
