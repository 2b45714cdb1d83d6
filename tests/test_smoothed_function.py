"""The smoothed game's equilibrium as a bid function (diffauction.equilibria.smoothed_function),
against theory: the solver's tolerances, grid refinement, the linear fixed point of the linear
class, b̃_β → b* as β grows, and Monte-Carlo gradients of the game layer's own mechanisms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.optimize import brentq

from diffauction.equilibria.smoothed_function import (
    FunctionGame,
    SolverSettings,
    _start,
    l2_to_bne,
    solve,
    value_grid,
)
from diffauction.equilibria.smoothed_function_system import System
from diffauction.equilibria.smoothed_function_terms import linear_class_gradient
from diffauction.equilibria.smoothed_linear import LinearGame, stationary_points
from diffauction.game.mechanisms import make_mechanism
from diffauction.game.priors import BetaPrior, UniformPrior

PAB = FunctionGame("pay_as_bid", 3, (UniformPrior(),), 2)
BETA25 = FunctionGame("first_price", 2, (BetaPrior(2.0, 5.0),))
PLUM = FunctionGame("first_price", 2, (UniformPrior(0.0, 0.5), UniformPrior(0.0, 1.0)))


@pytest.fixture(scope="module")
def pab_solutions():
    return {beta: solve(PAB, beta) for beta in (25.0, 50.0, 100.0)}


def test_solutions_meet_every_tolerance(pab_solutions):
    settings = SolverSettings()
    for solution in pab_solutions.values():
        assert solution.converged, solution.status
        assert solution.residual <= settings.residual_tol
        assert solution.gap <= settings.gap_tol
        assert solution.grid_change <= settings.grid_tol
        v = solution.values[0]
        r = solution.marginal_utility(0, v, solution.bids[0])
        # the complementarity conditions: r = 0 where b > 0, r ≤ 0 where b = 0
        assert np.all(np.abs(np.minimum(solution.bids[0], -r)) <= settings.residual_tol)


def test_refining_the_grid_barely_moves_the_solution():
    coarse = solve(BETA25, 50.0, check_grid=False)
    fine = solve(BETA25, 50.0, SolverSettings(cell=0.25), check_grid=False)
    v = np.linspace(0.05, 0.98, 94)  # away from the kink where b̃ leaves 0 (near v = 1/β)
    assert np.abs(coarse.bid(0, v) - fine.bid(0, v)).max() < 1e-4
    assert abs(l2_to_bne(coarse) - l2_to_bne(fine)) < 1e-4


@pytest.mark.parametrize("n", [2, 3])
def test_linear_class_gradient_vanishes_at_the_linear_fixed_point(n):
    """On linear profiles the function code's gradient is the linear class's, so it changes sign
    at the fixed point w̃(β, N) of the linear solver."""
    beta = 50.0
    (w_tilde,), _ = stationary_points(LinearGame("first_price", n), beta)
    game = FunctionGame("first_price", n, (UniformPrior(),))
    below, above = linear_class_gradient(game, [0.98 * w_tilde, 1.02 * w_tilde], beta)
    assert below > 0 > above
    root = brentq(lambda w: float(linear_class_gradient(game, w, beta)), 0.98 * w_tilde,
                  1.02 * w_tilde, xtol=1e-12)
    assert root == pytest.approx(w_tilde, abs=2e-5)


def test_the_function_equilibrium_is_not_linear():
    """First price on U[0, 1]: the lowest values bid nothing, unlike w̃·v."""
    solution = solve(FunctionGame("first_price", 2, (UniformPrior(),)), 50.0, check_grid=False)
    assert solution.bid(0, 0.005) == 0.0 and solution.bid(0, 0.5) > 0.2


def test_smoothed_equilibrium_tends_to_the_bne(pab_solutions):
    distances = [l2_to_bne(pab_solutions[beta]) for beta in sorted(pab_solutions)]
    assert distances[0] > distances[1] > distances[2] > 0
    # close to the rate 1/β: each doubling of β about halves the distance
    assert all(0.35 < b / a < 0.6 for a, b in zip(distances, distances[1:], strict=False))


def test_asymmetric_solution_tends_to_plums_equilibrium():
    solution = solve(PLUM, 50.0, check_grid=False)
    assert solution.gap <= 1e-8 and solution.residual <= 1e-10
    assert max(l2_to_bne(solution, c) for c in (0, 1)) < 0.012


def monte_carlo_marginal(game: FunctionGame, solution, v: float, x: float, beta: float,
                         samples: int = 1 << 18) -> tuple[float, float]:
    """Mean and standard error of ∂ũ_0/∂b from the game layer's mechanism, agent 0 of value v
    bidding x, the others drawing values from their prior and bidding b̃."""
    params = {"k": game.units} if game.mechanism == "pay_as_bid" else {}
    mechanism = make_mechanism(game.mechanism, **params)
    generator = torch.Generator().manual_seed(0)
    prior = game.priors[game.opponent(0)]
    values = prior.sample((1, samples, game.n_agents), generator=generator)
    bids = torch.from_numpy(solution.bid(game.opponent(0), values.numpy()))
    values[..., 0], bids[..., 0] = v, x
    per_sample = mechanism.smoothed_bid_gradient(values, bids, beta)[0, :, 0]
    return float(per_sample.mean()), float(per_sample.std() / math.sqrt(samples))


@pytest.mark.parametrize("game", [PAB, FunctionGame("all_pay", 3, (UniformPrior(),)), PLUM],
                         ids=["pay_as_bid", "all_pay", "plum"])
def test_marginal_utility_is_the_game_layers_gradient(game):
    beta = 25.0
    solution = solve(game, beta, SolverSettings(cell=0.25), check_grid=False)
    for v, x in [(0.4, 0.15), (0.45, 0.3)]:
        mean, se = monte_carlo_marginal(game, solution, v, x, beta)
        assert abs(float(solution.marginal_utility(0, v, x)) - mean) < 4 * se + 1e-4


def test_unsupported_settings_are_named():
    with pytest.raises(ValueError, match="mechanism"):
        FunctionGame("second_price", 2, (UniformPrior(),))
    with pytest.raises(ValueError, match="units"):
        FunctionGame("first_price", 3, (UniformPrior(),), 2)
    with pytest.raises(ValueError, match="asymmetric"):
        FunctionGame("first_price", 3, (UniformPrior(), UniformPrior(0.0, 2.0)))
    with pytest.raises(ValueError, match="function_solver"):
        SolverSettings(nodes=0)
    with pytest.raises(ValueError, match="beta"):
        solve(PAB, -1.0)
    assert "max_cells" in solve(PAB, 5000.0).status


def test_first_price_jumps_near_the_top_and_the_split_cell_is_indifferent():
    """At β = 200 the marginal value near the top is indifferent between two bids: one split
    cell carries the jump, and every other cell best-responds."""
    solution = solve(FunctionGame("first_price", 2, (UniformPrior(),)), 200.0)
    assert solution.converged, solution.status
    assert solution.splits == 1
    bids = solution.bids[0]
    assert np.all(np.diff(bids) >= -1e-12)  # non-decreasing, with one step
    assert np.diff(bids).max() > 0.005  # the jump, against steps of about 3e-3 elsewhere
    assert l2_to_bne(solution) < 0.0015


def test_the_grid_check_halves_the_cells_until_the_solution_settles():
    """Plum's setting at β = 100 moves by more than the tolerance when the cells are halved
    once, and settles after a second halving; the finer solution is kept."""
    settings = SolverSettings()
    once = solve(PLUM, 100.0, SolverSettings(max_halvings=1))
    assert not once.converged and "grid change" in once.status
    twice = solve(PLUM, 100.0, settings)
    assert twice.converged and twice.grid_change <= settings.grid_tol
    assert len(twice.bids[1]) > 3 * len(solve(PLUM, 100.0, check_grid=False).bids[1])


ALL_PAY_2 = FunctionGame("all_pay", 2, (UniformPrior(),))


def test_continuation_finishes_where_newtons_line_search_stalls():
    """All-pay, N = 2, β = 200 from b*: the backtracking stalls at a local minimum of ½‖F‖²
    that is not a root; pseudo-transient continuation from the same start reaches the
    tolerance, and :meth:`System.newton` (both in turn) returns its root."""
    settings = SolverSettings()
    edges = [value_grid(UniformPrior(), 200.0, settings)]
    system = System(ALL_PAY_2, 200.0, edges, settings.nodes)
    _, start = _start(ALL_PAY_2, edges)
    _, stalled, iterations = system._damped_newton(start, settings.residual_tol,
                                                   settings.max_iterations)
    assert stalled > 1e-4 and iterations < settings.max_iterations  # gave up, not ran out
    y, residual, _ = system.continuation(start, settings.residual_tol)
    assert residual <= settings.residual_tol
    assert np.all(y[:system.n] >= 0.0)
    assert system.newton(start, settings.residual_tol, settings.max_iterations)[1] \
        <= settings.residual_tol


def test_all_pay_converges_with_its_jumps_resolved():
    """All-pay, N = 2, β = 200: only the lowest cell bids nothing, b̃ is non-decreasing and
    jumps near the top (split cells, like first price's); the solution meets every tolerance,
    the complementarity conditions hold at every cell, and it is within the order of 1/β of
    b*(v) = v²/2 (0.0016)."""
    solution = solve(ALL_PAY_2, 200.0)
    assert solution.converged, solution.status
    assert solution.splits >= 1
    v, bids = solution.values[0], solution.bids[0]
    assert bids[0] == 0.0 and np.all(np.diff(bids) >= -1e-12)
    r = solution.marginal_utility(0, v, bids)
    # away from a split cell, whose curve points are its two halves and the jump between them
    cells = np.ones(len(v), bool)
    for jump in np.flatnonzero(np.diff(v) < 1e-9):
        cells[jump - 1:jump + 3] = False
    assert cells.sum() > 0.95 * len(v)
    assert np.all(np.abs(np.minimum(bids, -r))[cells] <= 1e-8)
    assert l2_to_bne(solution) < 0.002


def test_first_price_converges_at_beta_400_closer_than_at_200():
    """First price, N = 2: at β = 400 the solver needs the continuation (Newton alone stops at
    a profile whose top jump comes too early); b̃ is nearer b* than at β = 200, by about the
    factor 2 of the rate 1/β or more."""
    game = FunctionGame("first_price", 2, (UniformPrior(),))
    fine, coarse = solve(game, 400.0), solve(game, 200.0)
    assert fine.converged, fine.status
    assert l2_to_bne(fine) < 0.55 * l2_to_bne(coarse)
