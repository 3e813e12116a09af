"""Input checks shared by the public entry points (bayestune/_checks.py)."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Literal

import numpy as np
import pytest
import torch

import bayestune as bt
from bayestune._checks import (
    check_int,
    check_number,
    check_option,
    check_seed,
    parse_direction,
    parse_value,
)
from bayestune.trial import FrozenTrial, Trial, TrialState, parse_state, trial_number


@pytest.mark.parametrize(("given", "expected"), [
    ("minimize", "minimize"), ("maximize", "maximize"), ("MAXIMIZE", "maximize"),
])
def test_direction_accepts_both_directions_case_insensitively(given, expected):
    assert parse_direction(given) == expected


@pytest.mark.parametrize("bad", ["min", "", "ascend", None, 1, ["minimize"]])
def test_unknown_direction_is_an_error_naming_it(bad):
    with pytest.raises(bt.InvalidValueError, match="direction") as info:
        parse_direction(bad)
    assert repr(bad) in str(info.value)


@pytest.mark.parametrize(("value", "expected"), [
    (1, 1.0), (-2.5, -2.5), (0, 0.0), (1e12, 1e12),
    (np.float32(1.5), 1.5), (np.float64(2.0), 2.0), (np.int64(3), 3.0),
    (np.array(4.0), 4.0), (np.array([5.0]), 5.0), (np.array([[6.0]]), 6.0),
    (torch.tensor(7.0), 7.0), (torch.tensor([8.0]), 8.0),
    (torch.tensor([9.0], requires_grad=True), 9.0), (torch.tensor(1.5, dtype=torch.float16), 1.5),
])
def test_numbers_and_one_element_arrays_and_tensors_are_accepted(value, expected):
    assert parse_value(value) == expected
    assert type(parse_value(value)) is float


@pytest.mark.parametrize("value", [
    None, float("nan"), float("inf"), -float("inf"), np.nan, np.float32("inf"),
    torch.tensor(float("nan")), np.array([np.inf]),
])
def test_none_nan_and_inf_mean_a_failed_trial(value):
    assert parse_value(value) is None


@pytest.mark.parametrize(("value", "named"), [
    ("abc", "'abc'"),
    ("0.5", "'0.5'"),
    (b"1", "b'1'"),
    (True, "True"),
    (np.bool_(False), "False"),
    ([1.0], "[1.0]"),
    ({"loss": 1.0}, "{'loss': 1.0}"),
    (1 + 2j, "(1+2j)"),
    (torch.tensor([1.0, 2.0]), "(2,)"),
    (torch.ones(2, 3), "(2, 3)"),
    (torch.tensor([]), "(0,)"),
    (np.array([1.0, 2.0]), "(2,)"),
    (np.zeros((3, 1)), "(3, 1)"),
    pytest.param(10**400, "1000000", id="10**400"),
    pytest.param(-(10**400), "-1000000", id="-10**400"),
    pytest.param(Fraction(10**400, 3), "Fraction", id="fraction"),
])
def test_a_value_that_is_not_a_number_is_an_error_naming_it(value, named):
    with pytest.raises(bt.InvalidValueError) as info:
        parse_value(value)
    assert named in str(info.value)


def test_trial_number_of_trials_ints_and_numpy_ints():
    t = Trial(3, {"x": 1.0})
    ft = FrozenTrial(4, TrialState.COMPLETE, {"x": 1.0}, 1.0)
    assert trial_number(t) == 3
    assert trial_number(ft) == 4
    assert trial_number(5) == 5
    assert trial_number(np.int64(6)) == 6
    assert type(trial_number(np.int64(6))) is int


@pytest.mark.parametrize("bad", ["3", 3.0, True, None, [3]])
def test_trial_number_rejects_what_is_not_a_trial_or_an_int(bad):
    with pytest.raises(bt.InvalidValueError) as info:
        trial_number(bad)
    assert repr(bad) in str(info.value)


@pytest.mark.parametrize(("given", "expected"), [
    ("complete", TrialState.COMPLETE), ("FAILED", TrialState.FAILED),
    (TrialState.PRUNED, TrialState.PRUNED), ("pruned", TrialState.PRUNED),
])
def test_parse_state_accepts_finished_states(given, expected):
    assert parse_state(given) is expected


@pytest.mark.parametrize("bad", ["RUNNING", TrialState.WAITING, "done", 3])
def test_parse_state_rejects_unfinished_or_unknown_states(bad):
    with pytest.raises(bt.InvalidValueError) as info:
        parse_state(bad)
    text = str(info.value)
    assert str(getattr(bad, "value", bad)) in text


def test_parse_value_never_returns_a_non_finite_float():
    for v in (1e308, -1e308, 5e-324):
        out = parse_value(v)
        assert out is not None and math.isfinite(out)


# -- the shared argument checks ----------------------------------------------------------------
def test_check_int_takes_python_and_numpy_ints_and_returns_a_python_int():
    assert check_int("n", 3) == 3
    assert type(check_int("n", np.int64(3), low=0)) is int
    assert check_int("n", None, none=True) is None


@pytest.mark.parametrize(("value", "low", "none", "message"), [
    (True, None, False, "n must be an int, got n=True"),
    (2.0, None, False, "n must be an int, got n=2.0"),
    ("2", None, False, "n must be an int, got n='2'"),
    (0, 1, False, "n must be an int >= 1, got n=0"),
    (-1, 0, True, "n must be an int >= 0 or None, got n=-1"),
    (None, None, False, "n must be an int, got n=None"),
])
def test_check_int_names_the_argument_and_the_bad_value(value, low, none, message):
    with pytest.raises(bt.InvalidValueError) as info:
        check_int("n", value, low=low, none=none)
    assert str(info.value) == message


def test_check_number_bounds_are_inclusive_unless_strict():
    assert check_number("x", 0, low=0) == 0.0
    assert type(check_number("x", np.float32(0.5), low=0, high=1)) is float
    assert check_number("x", math.inf, low=0, finite=False) == math.inf
    with pytest.raises(bt.InvalidValueError, match=r"x must be a finite number in \(0, 1\), "
                                                   r"got x=0"):
        check_number("x", 0, low=0, high=1, strict_low=True, strict_high=True)
    with pytest.raises(bt.InvalidValueError, match=r"x must be a finite number >= 0 or None"):
        check_number("x", -1, low=0, none=True)


@pytest.mark.parametrize("bad", [math.nan, math.inf, True, "1", None])
def test_check_number_refuses_nan_inf_bools_and_strings(bad):
    with pytest.raises(bt.InvalidValueError) as info:
        check_number("x", bad)
    assert repr(bad) in str(info.value)


def test_check_number_names_a_described_argument_without_an_equals_sign():
    with pytest.raises(bt.InvalidValueError, match=r"divergence factor must be a number > 1 "
                                                   r"or None, got 0.5$"):
        check_number("divergence factor", 0.5, low=1, strict_low=True, finite=False, none=True)


def test_check_seed_is_an_int_or_none():
    assert check_seed(None) is None and check_seed(np.int32(7)) == 7
    with pytest.raises(bt.InvalidValueError, match="seed='0'"):
        check_seed("0")


Panel = Literal["both", "mean", "std"]


def test_check_option_reads_the_allowed_values_from_the_literal_type():
    assert check_option("what", "std", Panel) == "std"
    with pytest.raises(bt.InvalidValueError) as info:
        check_option("what", "median", Panel)
    assert str(info.value) == "what must be 'both', 'mean' or 'std', got what='median'"
    with pytest.raises(bt.InvalidValueError, match="'a' or 'b'"):
        check_option("x", 1, Literal["a", "b"])
    with pytest.raises(TypeError, match="Literal"):
        check_option("x", "a", str)
