"""The output warp: monotone, invertible, robust to heavy tails, never raises."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bayestune.gp.transforms import fit_output_warp


def test_warp_is_monotone_and_inverts():
    y = np.random.default_rng(0).lognormal(size=40)
    w = fit_output_warp(y)
    z = w.forward(y)
    order = np.argsort(y)
    assert np.all(np.diff(z[order]) > 0)
    assert np.allclose(w.inverse(z), y, rtol=1e-9, atol=1e-12)
    assert z.mean() == pytest.approx(0.0, abs=1e-9) and z.std() == pytest.approx(1.0, rel=1e-9)


def test_one_huge_loss_does_not_flatten_the_good_values():
    losses = np.array([0.30, 0.35, 0.40, 0.50, 0.90, 2.3, 1e12])
    raw = -losses  # maximize orientation
    z = fit_output_warp(raw).forward(raw)
    z_plain = (raw - raw.mean()) / raw.std()
    good = slice(0, 5)
    # standardization alone squashes the five good runs together; the warp keeps them apart
    assert np.ptp(z_plain[good]) < 1e-9
    assert np.ptp(z[good]) > 0.3
    assert np.all(np.diff(z) < 0)


@pytest.mark.parametrize("y", [np.array([]), np.array([3.0]), np.array([2.0, 2.0, 2.0]),
                               np.array([1.0, 1.0 + 1e-15])])
def test_degenerate_inputs_do_not_raise(y):
    w = fit_output_warp(y)
    z = w.forward(y)
    assert np.all(np.isfinite(z))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e9, 1e9, allow_nan=False), min_size=3, max_size=30))
def test_warp_keeps_order_for_any_finite_values(vals):
    y = np.array(vals)
    w = fit_output_warp(y)
    z = w.forward(y)
    assert np.all(np.isfinite(z))
    i, j = np.argmin(y), np.argmax(y)
    assert z[i] <= z[j]


def test_inverse_is_bounded_far_from_the_data():
    y = -np.array([0.3, 0.35, 0.4, 0.5, 0.9, 2.3, 150.0, 1e4])
    w = fit_output_warp(y)
    far = w.inverse(np.array([-1e3, 1e3]))
    assert np.all(np.isfinite(far))
    assert far[0] >= w.inverse(np.array([w.z_range[0] - 4.0]))[0] - 1e-9
    assert np.allclose(w.inverse(w.forward(y)), y)
