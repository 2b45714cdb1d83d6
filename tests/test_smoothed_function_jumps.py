"""Jumps of the smoothed equilibrium bid function b̃_β (diffauction.equilibria.smoothed_function):
the split cell's equations (each bid optimal at its part's midpoint, indifference at the jump
value ν) and their Jacobian, ν converging at second order in the cell width, and jumps that fall
between two cells found and given a split cell."""

from __future__ import annotations

import numpy as np
import pytest

from diffauction.equilibria.smoothed_function import (
    FunctionGame,
    Solution,
    SolverSettings,
    _solution,
    _solve_on,
    _start,
    grids,
    l2_to_bne,
    solve,
    transfer,
    value_grid,
)
from diffauction.equilibria.smoothed_function_rounds import solve_rounds, unsplit_jumps
from diffauction.equilibria.smoothed_function_system import System
from diffauction.equilibria.smoothed_function_terms import midpoints
from diffauction.game.priors import BetaPrior, UniformPrior

FIRST_PRICE_2 = FunctionGame("first_price", 2, (UniformPrior(),))
ALL_PAY_2 = FunctionGame("all_pay", 2, (UniformPrior(),))
ALL_PAY_3 = FunctionGame("all_pay", 3, (UniformPrior(),))
PLUM = FunctionGame("first_price", 2, (UniformPrior(0.0, 0.5), UniformPrior(0.0, 1.0)))


def _numeric_jacobian(system: System, y: np.ndarray, step: float = 1e-6) -> np.ndarray:
    return np.column_stack([
        (system.evaluate(y + step * e, jacobian=False)[0]
         - system.evaluate(y - step * e, jacobian=False)[0]) / (2 * step)
        for e in np.eye(len(y))])


@pytest.mark.parametrize("game, second, theta", [
    (FIRST_PRICE_2, 0.62, 0.3),   # the second bid above the cell's own
    (FIRST_PRICE_2, 0.30, 0.4),   # the second bid below the cell's own: θ is the lower share
    (ALL_PAY_2, 0.55, 0.3),
    (PLUM, 0.45, 0.6),            # the weak bidder's split moves the strong one's atoms
])
def test_the_jacobian_with_a_split_is_the_residuals_derivative(game, second, theta):
    """The analytic Jacobian of a system with a split cell against central differences, and
    the residual without the Jacobian (line searches) equal to the one with it."""
    edges = [np.linspace(float(p.low), float(p.high), 13) for p in game.priors]
    system = System(game, 10.0, edges, 6, splits=((0, 9),))
    y = np.concatenate([0.6 * midpoints(e) + 0.01 for e in edges] + [[second], [theta]])
    phi, _, jac = system.evaluate(y)
    assert np.array_equal(system.evaluate(y, jacobian=False)[0], phi)
    assert np.abs(_numeric_jacobian(system, y) - jac.toarray()).max() < 1e-6


def test_the_split_cells_jump_value_converges_at_second_order():
    """First price, N = 2, β = 100: the jump value ν near the top moves by a small fraction of
    the cell width when the cells are halved (an indifference imposed at the cell's midpoint
    moved it by about a tenth of a cell: first order)."""
    settings = SolverSettings()
    jumps, widths, start = [], [], None
    for refine in (1, 2, 4):
        edges = [value_grid(UniformPrior(), 100.0, settings, refine=refine)]
        system, y, res, gap, _, _ = _solve_on(FIRST_PRICE_2, 100.0, edges, settings,
                                           [start or _start(FIRST_PRICE_2, edges)])
        assert res <= settings.residual_tol and gap <= settings.gap_tol
        assert len(system.splits) == 1
        values = _solution(system, y).values[0]
        jumps.append(values[np.flatnonzero(np.diff(values) < 1e-9)[0]])
        widths.append(np.median(np.diff(edges[0])))
        start = transfer(_solution(system, y), [value_grid(UniformPrior(), 100.0, settings,
                                                          refine=2 * refine)])
    assert 0.9 < jumps[0] < 0.96
    assert abs(jumps[1] - jumps[0]) < 0.02 * widths[0]
    assert abs(jumps[2] - jumps[1]) < 0.02 * widths[1]


def test_all_pays_participation_jump_between_two_cells_gets_a_split_cell():
    """All-pay, N = 2, β = 50: the lowest values bid nothing up to a threshold where b̃ jumps
    up. Newton's root puts the jump at a cell edge, where no cell gains by another bid; the dip
    of ũ between the two cells' bids finds it, the solver splits the cell holding it, and the
    solution converges under grid refinement."""
    settings = SolverSettings()
    edges = [value_grid(UniformPrior(), 50.0, settings)]
    system = System(ALL_PAY_2, 50.0, edges, settings.nodes)
    y, res, _ = system.newton(np.maximum(0.5 * midpoints(edges[0]) ** 2, 0.0),
                              settings.residual_tol, settings.max_iterations)
    assert res <= settings.residual_tol
    found = unsplit_jumps(system, y, settings.gap_tol)
    low_jumps = [j for j in found if j[1] == 0.0]
    assert len(low_jumps) == 1
    (_, cell), low, high, share = low_jumps[0]
    assert 0.2 < midpoints(edges[0])[cell] < 0.3 and high > 0.005 and 0.0 < share < 1.0

    solution = solve(ALL_PAY_2, 50.0)
    assert solution.converged, solution.status
    v, bids = solution.values[0], solution.bids[0]
    steps = np.flatnonzero(np.diff(v) < 1e-9)
    low_step = [s for s in steps if bids[s] == 0.0]
    assert len(low_step) == 1 and 0.2 < v[low_step[0]] < 0.3
    assert bids[low_step[0] + 1] > 0.005


def test_a_continuous_bid_function_gets_no_split():
    """Beta(2,5) priors, first price, β = 100: b̃ is continuous (steep, not jumping), so the
    dip check finds no jump and no cell is split."""
    solution = solve(FunctionGame("first_price", 2, (BetaPrior(2.0, 5.0),)), 100.0)
    assert solution.converged and solution.splits == 0


def test_transfer_carries_each_jump_to_the_cell_that_holds_it():
    """A curve with a step at ν = 0.43 (0.2 → 0.3) and a step too small to be a jump: on a new
    grid the cell holding ν is split, its own bid the lower side, its second bid the higher, on
    the share of the cell above ν; the small step is interpolated over."""
    nu, tiny = 0.43, 0.71
    v = np.array([0.0, nu, np.nextafter(nu, 1.0), tiny, np.nextafter(tiny, 1.0), 1.0])
    b = np.array([0.0, 0.2, 0.3, 0.5, 0.5 + 1e-9, 0.6])
    curve = Solution(FIRST_PRICE_2, 50.0, [v], [b], [])
    edges = [np.linspace(0.0, 1.0, 11)]
    splits, y = transfer(curve, edges)
    assert splits == ((0, 4),)
    assert y[4] == pytest.approx(0.2) and y[10] == pytest.approx(0.3)  # b_4, then h
    assert y[11] == pytest.approx((0.5 - nu) / 0.1)  # the share above ν
    assert y[3] == pytest.approx(0.2 * 0.35 / nu)  # other cells: the curve interpolated


PAY_AS_BID = FunctionGame("pay_as_bid", 3, (UniformPrior(),), 2)


def test_the_beta_ladder_reaches_a_temperature_where_b_star_is_no_start():
    """Pay as bid (N = 3, k = 2) at β = 400: Newton from b* finds no root, the solution at
    β = 200 carried up in small steps of β does, and it passes every check; b̃ is
    nearer b* than at β = 200."""
    alone = solve(PAY_AS_BID, 400.0)
    assert not alone.converged and "Newton" in alone.status
    below = solve(PAY_AS_BID, 200.0)
    carried = solve(PAY_AS_BID, 400.0, below=below)
    assert carried.converged, carried.status
    assert alone.start == "b*" and carried.start == "ladder from beta=200"
    assert l2_to_bne(carried) < 0.7 * l2_to_bne(below)


def test_a_gap_that_shrinks_with_the_cells_is_refined_away():
    """Plum's setting at β = 200: on the first grid a split cell's upper part is beaten by
    6e-7 (its indifference holds at the parts' bids, exact only as the cells shrink); halving
    the cells closes the gap, and the solution passes every check there."""
    settings = SolverSettings(max_cells=2100)
    coarse = solve(PLUM, 200.0, settings, check_grid=False)
    assert settings.gap_tol < coarse.gap < 1e-5 and "gap" in coarse.status
    refined = solve(PLUM, 200.0, settings)
    assert refined.converged, refined.status
    assert refined.gap <= settings.gap_tol
    assert len(refined.values[0]) > 1.9 * len(coarse.values[0])


def test_a_jump_that_leaves_its_split_cell_is_given_the_cell_it_moved_to():
    """First price (N = 2) solved at β = 100, then asked for β = 120 on the same cells: b̃'s
    jump moves out of its split cell, Newton drives the share to a bound and finds no root;
    without that split (the jump now between two cells) Newton does, and the rounds split the
    cell the jump moved to (without continuation, which finds the root another way)."""
    settings = SolverSettings()
    below = solve(FIRST_PRICE_2, 100.0, settings, check_grid=False)
    assert below.converged
    edges = [value_grid(UniformPrior(), 100.0, settings)]
    splits, y = transfer(below, edges)
    assert splits == ((0, 95),)
    system = System(FIRST_PRICE_2, 120.0, edges, settings.nodes, splits)
    stuck, res, _ = system._damped_newton(y, settings.residual_tol, settings.max_iterations)
    assert res > 1e-3 and stuck[system.n + 1] in (0.0, 1.0)  # the share at a bound
    moved, _, res, gap, _ = solve_rounds(system, y, settings, fallback=False)
    assert res <= settings.residual_tol and gap <= settings.gap_tol
    assert (0, 96) in moved.splits


def test_a_failed_ladder_step_is_retried_shorter():
    """All-pay (N = 2) at β = 400: b* leaves top cells that a lower bid beats; the solution at
    β = 200 carried up in steps of 10 % fails where its pools at the top change, and with the
    failed steps halved it reaches β = 400 and passes every check, nearer b* than at 200."""
    settings = SolverSettings(max_cells=2100)
    alone = solve(ALL_PAY_2, 400.0, settings)
    assert not alone.converged and "gap" in alone.status
    below = solve(ALL_PAY_2, 200.0, settings)
    carried = solve(ALL_PAY_2, 400.0, settings, below=below)
    assert carried.converged, carried.status
    assert carried.start == "ladder from beta=200"
    assert l2_to_bne(carried) < 0.8 * l2_to_bne(below)


@pytest.mark.parametrize("game", [FIRST_PRICE_2, ALL_PAY_2, ALL_PAY_3, PLUM,
                                  FunctionGame("first_price", 2, (BetaPrior(2.0, 5.0),))])
def test_a_cell_of_b_star_bids_within_the_sigma_layer(game):
    """Each cell of the grid at β bids over at most cell/β under b* (the σ layer, 1/β wide, is
    wider than a cell's bid range): all-pay's b* = (N − 1)/N v^N rises by 2 per unit of value at
    the top for N = 3, so its cells are half as wide as for N = 2, whose slope is at most 1."""
    settings, beta = SolverSettings(), 100.0
    for c, edges in enumerate(grids(game, beta, settings)):
        assert np.diff(game.bne(c, edges)).max() <= settings.cell / beta * (1 + 1e-3)
    assert game.bid_spread(0) == pytest.approx(
        {ALL_PAY_3: 2.0, ALL_PAY_2: 1.0, FIRST_PRICE_2: 0.5}.get(game, game.bid_spread(0)),
        rel=1e-3)
    if game == ALL_PAY_3:
        assert len(grids(game, beta, settings)[0]) > 1.9 * len(grids(ALL_PAY_2, beta,
                                                                    settings)[0])


@pytest.mark.slow
def test_all_pay_with_three_bidders_converges_at_beta_400():
    """All-pay (N = 3) at β = 400, the temperature its networks end at: on cells whose bid
    range stays within the σ layer the β ladder from 200 reaches it and passes every check
    (the grid check included), nearer b* than at 200 (about 1/β)."""
    settings = SolverSettings(max_cells=2100)
    below = solve(ALL_PAY_3, 200.0, settings)
    carried = solve(ALL_PAY_3, 400.0, settings, below=below)
    assert carried.converged, carried.status
    assert 0.4 < l2_to_bne(carried) / l2_to_bne(below) < 0.6
