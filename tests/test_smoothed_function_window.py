"""The bid-function solver at high β: the window of competing bids around each bid, the banded
Newton system solved by sparse LU, and the β ladder's start with b̃'s boundary layers moved
towards the ends (:mod:`diffauction.equilibria.smoothed_function_system`,
:mod:`diffauction.equilibria.smoothed_function_rounds`)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from diffauction.equilibria.smoothed_function import (
    FunctionGame,
    SolverSettings,
    grids,
    solve,
)
from diffauction.equilibria.smoothed_function_rounds import (
    boundary_warp,
    solve_rounds,
    transfer,
)
from diffauction.equilibria.smoothed_function_system import (
    DENSE_SIZE,
    System,
    _solve_linear,
)
from diffauction.equilibria.smoothed_function_terms import (
    kernels,
    midpoints,
    win_probability,
)
from diffauction.equilibria.smoothed_window import WINDOW, window
from diffauction.figures.smoothing import spaced_labels
from diffauction.game.priors import UniformPrior

PLUM = FunctionGame("first_price", 2, (UniformPrior(0.0, 0.5), UniformPrior(0.0, 1.0)))
FIRST_PRICE_2 = FunctionGame("first_price", 2, (UniformPrior(),))


def _full_sums(x, m, w, beta):
    s = expit(beta * (x[:, None] - m[None, :]))
    k1 = beta * s * (1.0 - s) * w
    return s @ w, k1.sum(1), (beta * (1.0 - 2.0 * s) * k1).sum(1)


@pytest.mark.parametrize("beta", [5.0, 2000.0])
def test_the_window_keeps_the_sums_to_rounding(beta):
    """P, P' and P'' against 3000 atoms (ties at 0 included) from the atoms within the window
    and the mass below it equal the sums over every atom to a few 1e-15 (P) and to as much of
    their scales β (P') and β² (P''); at β = 2000 a window holds a few per cent of the atoms,
    at β = 5 all of them."""
    rng = np.random.default_rng(3)
    m = np.concatenate([np.zeros(200), np.sort(rng.uniform(0.0, 0.6, 2800))])
    w = rng.uniform(0.5, 1.0, len(m))
    w /= w.sum()
    x = np.concatenate([[0.0, 1e-5, 0.3, 0.6, 0.7], rng.uniform(0.0, 0.65, 200)])
    p, p1, p2 = kernels(x, m, w, beta)
    full = _full_sums(x, m, w, beta)
    assert np.abs(p - full[0]).max() < 1e-15 * 4
    assert np.abs(p1 - full[1]).max() < 1e-15 * beta * 4
    assert np.abs(p2 - full[2]).max() < 1e-15 * beta ** 2 * 4
    assert np.allclose(win_probability(x.reshape(5, 41), m, w, beta), full[0].reshape(5, 41),
                       rtol=0.0, atol=4e-15)
    _, _, cols, valid = window(x, m, beta)
    if beta == 5.0:
        assert cols.shape[1] == len(m) and valid.all()
    else:  # each window holds exactly the atoms within WINDOW/β of its bid
        inside = np.abs(x[:, None] - m[None, :]) <= WINDOW / beta
        assert np.array_equal(valid.sum(1), inside.sum(1))
        assert np.median(valid.sum(1)) < 0.1 * len(m)


def test_the_jacobian_is_the_residuals_derivative_through_the_window():
    """On 120 cells at β = 600 each bid's window holds at most a third of the atoms; the sparse
    Jacobian of a system with a split cell equals central differences of the residual."""
    edges = [np.linspace(0.0, 1.0, 121)]
    system = System(FIRST_PRICE_2, 600.0, edges, 6, splits=((0, 100),))
    y = np.concatenate([0.5 * midpoints(edges[0]) + 0.01, [0.62], [0.4]])
    _, _, cols, valid = window(y[:120], y[:120], 600.0)
    assert valid.sum(1).max() < 0.5 * 120  # the windowed path, not all atoms
    phi, _, jac = system.evaluate(y)
    step = 1e-7
    numeric = np.column_stack([
        (system.evaluate(y + step * e, jacobian=False)[0]
         - system.evaluate(y - step * e, jacobian=False)[0]) / (2 * step)
        for e in np.eye(len(y))])
    assert np.abs(numeric - jac.toarray()).max() < 1e-5 * np.abs(numeric).max()


def test_the_sparse_newton_step_is_the_dense_one():
    """Plum's setting at β = 1000 (over DENSE_SIZE unknowns): the step from sparse LU in the
    bids' order equals LAPACK's dense solve, and the Jacobian keeps a few per cent of the
    entries."""
    settings = SolverSettings(max_cells=4100)
    edges = grids(PLUM, 1000.0, settings)
    y = np.concatenate([PLUM.bne(c, midpoints(e)) for c, e in enumerate(edges)])
    system = System(PLUM, 1000.0, edges, settings.nodes)
    assert system.n > DENSE_SIZE
    phi, _, jac = system.evaluate(y)
    assert jac.nnz < 0.15 * system.n ** 2
    step = _solve_linear(jac, -phi, system.order(y))
    dense = np.linalg.solve(jac.toarray(), -phi)
    assert np.abs(step - dense).max() < 1e-10 * np.abs(dense).max()


def test_boundary_warp_moves_the_layers_and_keeps_the_middle():
    """Near an end a distance d becomes d·scale, at the layer's edge and beyond it stays; the
    map is continuous and increasing."""
    v = np.linspace(0.0, 1.0, 10001)
    out = boundary_warp(v, 0.0, 1.0, 0.8, 0.1)
    assert np.all(np.diff(out) > 0)
    assert out[0] == 0.0 and out[-1] == 1.0
    assert out[10] == pytest.approx(0.001 * (0.8 + 0.2 * 0.01))   # d = 0.001 from 0
    assert out[-11] == pytest.approx(1.0 - 0.001 * (0.8 + 0.2 * 0.01))
    middle = (v >= 0.1) & (v <= 0.9)
    assert np.array_equal(out[middle], v[middle])
    assert np.abs(np.diff(out)).max() < 2 * 1e-4


def test_the_ladders_start_carries_the_jumps_with_their_layer():
    """Plum's setting from β = 400 to 440: b̃'s jumps sit at distances of order 1/β below the
    top, so on the grid at 440 they lie a cell higher than at 400. Started with the layers
    moved (``transfer`` with β), Newton without continuation keeps both splits and passes every
    check; started from the curve as it was, the strong bidder's split is lost."""
    settings = SolverSettings(max_cells=2100)
    below = solve(PLUM, 200.0, settings)
    start = solve(PLUM, 400.0, settings, check_grid=False, below=below)
    assert start.converged and start.start == "ladder from beta=200"
    edges = grids(PLUM, 440.0, settings)
    results = {}
    for beta in (440.0, None):
        splits, y = transfer(start, edges, beta=beta)
        system, y, res, gap, _ = solve_rounds(System(PLUM, 440.0, edges, settings.nodes, splits),
                                              y, settings, fallback=False)
        results[beta] = (res <= settings.residual_tol and gap <= settings.gap_tol,
                         sorted(c for c, _ in system.splits))
    assert results[440.0] == (True, [0, 1])
    assert results[None] != (True, [0, 1])


def test_spaced_labels_keep_log_ticks_apart():
    """The β axis of the bid-function figure labels 25, 100, 400 and 2000 of the seven
    temperatures (each at least 3 times the last labelled), the others blank."""
    assert spaced_labels([25, 50, 100, 200, 400, 1000, 2000]) == [
        "25", "", "100", "", "400", "", "2000"]
    assert spaced_labels([10.0]) == ["10"]
