"""Tests for diffauction.equilibria.smoothed: quadrature accuracy and theory limits."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from diffauction.analysis.scaling import fit_gap_scaling
from diffauction.equilibria.smoothed import (
    DEFAULT_BETAS,
    DEFAULT_N_AGENTS,
    _inner_expectations,
    gap_constant_theory,
    smoothed_equilibrium_table,
    smoothed_gradient,
    smoothed_symmetric_equilibrium,
    smoothed_utility,
    smoothed_win_probability,
)


@pytest.fixture(scope="module")
def table():
    return smoothed_equilibrium_table(DEFAULT_BETAS, DEFAULT_N_AGENTS)


# --- quadrature convergence -------------------------------------------------


@pytest.mark.parametrize(
    "beta, n", [(5.0, 2), (25.0, 3), (100.0, 5), (1000.0, 2), (1000.0, 10), (1e5, 10)]
)
def test_fixed_point_converged_in_nodes(beta, n):
    base = smoothed_symmetric_equilibrium(beta, n, nodes=12, tol=1e-13)
    doubled = smoothed_symmetric_equilibrium(beta, n, nodes=24, tol=1e-13)
    assert abs(base - doubled) < 1e-7


@pytest.mark.parametrize(
    "args", [(0.9, 0.899, 1000.0, 10), (0.3, 0.6, 50.0, 3), (0.7, 0.5, 200.0, 2)]
)
def test_gradient_converged_in_nodes(args):
    assert smoothed_gradient(*args, nodes=12) == pytest.approx(
        smoothed_gradient(*args, nodes=24), abs=1e-10
    )


# --- beta -> infinity limit --------------------------------------------------


@pytest.mark.parametrize("n", [2, 3, 5, 10])
def test_large_beta_limit_is_bne(n):
    w = smoothed_symmetric_equilibrium(1e5, n)
    assert abs(w - (n - 1) / n) < 1e-4
    assert w < (n - 1) / n  # over-shading persists at finite beta


@pytest.mark.parametrize("n", [2, 3, 5])
def test_hard_limit_gradient_off_diagonal(n):
    # beta -> inf, w_own < w: U = (1 - w_own) (w_own/w)^(N-1) / (N+1), whose
    # derivative is [(N-1)(1-w_own)/w_own - 1] (w_own/w)^(N-1) / (N+1).
    w_own, w = 0.4, 0.6
    r = w_own / w
    exact = ((n - 1) * (1 - w_own) / w_own - 1.0) * r ** (n - 1) / (n + 1)
    assert smoothed_gradient(w_own, w, 1e6, n) == pytest.approx(exact, abs=1e-6)
    assert smoothed_utility(w_own, w, 1e6, n) == pytest.approx(
        (1 - w_own) * r ** (n - 1) / (n + 1), abs=1e-6
    )


def test_fixed_point_increasing_in_beta(table):
    for n, grp in table.groupby("n_agents"):
        w = grp.sort_values("beta")["w_smoothed"].to_numpy()
        assert np.all(np.diff(w) > 0), n
        assert np.all(w < grp["w_bne"].to_numpy()), n


def test_gradient_vanishes_at_fixed_point():
    w = smoothed_symmetric_equilibrium(50.0, 3)
    assert abs(smoothed_gradient(w, w, 50.0, 3)) < 1e-10
    # and changes sign around it (+ below, - above)
    assert (
        smoothed_gradient(w - 1e-3, w - 1e-3, 50.0, 3)
        > 0
        > smoothed_gradient(w + 1e-3, w + 1e-3, 50.0, 3)
    )


def test_small_beta_raises():
    with pytest.raises(ValueError, match="no sign change"):
        smoothed_symmetric_equilibrium(0.5, 2)


# --- leading-order gap constant c(N) = (1 + 1/N) ln 2 -------------------------


@pytest.mark.parametrize("n", [2, 3, 5, 10])
def test_gap_constant_theory_matches_large_beta(n):
    beta = 1e4
    gap = (n - 1) / n - smoothed_symmetric_equilibrium(beta, n)
    # O(1/beta^2) remainder: relative error ~ d/(c beta) < 1e-3
    assert beta * gap == pytest.approx(gap_constant_theory(n), rel=2e-3)


def test_fit_gap_scaling(table):
    fit = fit_gap_scaling(table)
    assert list(fit.columns) == ["n_agents", "constant_c", "exponent", "max_rel_residual"]
    assert list(fit["n_agents"]) == [2, 3, 5, 10]
    assert np.all(np.abs(fit["exponent"] + 1.0) < 0.1)
    assert np.all(fit["constant_c"] > 0)
    # two-term fit c/beta + d/beta^2 recovers the analytic constant
    fit2 = fit_gap_scaling(table, second_order=True)
    theory = np.array([gap_constant_theory(n) for n in fit2["n_agents"]])
    np.testing.assert_allclose(fit2["constant_c"], theory, rtol=0.02)
    assert np.all(fit2["max_rel_residual"] < 0.02)


# --- Monte Carlo cross-check of the gradient ---------------------------------


@pytest.mark.parametrize(
    "w_own, w_others, beta, n", [(0.45, 0.5, 20.0, 2), (0.7, 0.75, 40.0, 5), (0.85, 0.8, 30.0, 10)]
)
def test_gradient_matches_monte_carlo(w_own, w_others, beta, n):
    rng = np.random.default_rng(12345)
    m = 4_000_000
    v = rng.random(m)
    y = rng.random(m) ** (1.0 / (n - 1))  # inverse CDF of max of N-1 uniforms
    z = beta * (w_own * v - w_others * y)
    s, s_neg = expit(z), expit(-z)
    samples = v * (-s + (1.0 - w_own) * v * beta * s * s_neg)
    mean = samples.mean()
    se = samples.std(ddof=1) / np.sqrt(m)
    assert se < 2e-3  # the check is informative
    assert abs(smoothed_gradient(w_own, w_others, beta, n) - mean) < 4.0 * se


# --- internal consistency ----------------------------------------------------


@pytest.mark.parametrize(
    "w_own, w_others, beta, n",
    [(0.45, 0.5, 20.0, 2), (0.6, 0.55, 300.0, 3), (0.85, 0.9, 1000.0, 10)],
)
def test_gradient_is_derivative_of_utility(w_own, w_others, beta, n):
    h = 1e-5
    fd = (
        smoothed_utility(w_own + h, w_others, beta, n)
        - smoothed_utility(w_own - h, w_others, beta, n)
    ) / (2 * h)
    assert smoothed_gradient(w_own, w_others, beta, n) == pytest.approx(fd, abs=1e-7)


@pytest.mark.parametrize(
    "w_own, w_others, beta", [(0.5, 0.5, 10.0), (0.45, 0.5, 1000.0), (0.9, 0.3, 200.0)]
)
def test_inner_integral_softplus_closed_form_n2(w_own, w_others, beta):
    v = np.linspace(0.0, 1.0, 101)
    a = w_own * v
    softplus = lambda x: np.logaddexp(0.0, x)  # noqa: E731
    p_exact = (softplus(beta * a) - softplus(beta * (a - w_others))) / (beta * w_others)
    d_exact = (expit(beta * a) - expit(beta * (a - w_others))) / w_others  # d/da of p_exact
    np.testing.assert_allclose(
        smoothed_win_probability(v, w_own, w_others, beta, 2), p_exact, rtol=0, atol=1e-13
    )
    _, d = _inner_expectations(v, w_own, w_others, beta, 2, 12)
    np.testing.assert_allclose(d, d_exact, rtol=1e-11, atol=1e-11)


# --- table --------------------------------------------------------------------


def test_table_shape_and_columns(table):
    assert list(table.columns) == ["n_agents", "beta", "w_smoothed", "w_bne"]
    assert len(table) == 32
    assert table.equals(table.sort_values(["n_agents", "beta"]).reset_index(drop=True))
    np.testing.assert_allclose(table["w_bne"], (table["n_agents"] - 1) / table["n_agents"])
    assert np.all((table["w_smoothed"] > 0) & (table["w_smoothed"] < 1))
