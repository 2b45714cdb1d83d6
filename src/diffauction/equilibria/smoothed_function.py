r"""The smoothed game's equilibrium as a bid function b̃_β(v), by quadrature and Newton's method.

The smoothed game is the one the trainer ascends (:mod:`diffauction.game.single_item`,
:mod:`diffauction.game.multi_unit`): the win indicator 1{x > m} becomes σ(β(x − m)), m the
competing bid that decides the win (the highest competing bid; the k-th highest for k units), and
the price stays exact. Bidder i of value v bidding x against opponents who bid b_o(·) gets

=========================== ======================= =========================================
format                      ũ(v, x)                 first-order condition r(v, x) = ∂ũ/∂x
=========================== ======================= =========================================
first price, pay as bid     (v − x) P(x)            (v − x) P'(x) − P(x)
all-pay                     v P(x) − x              v P'(x) − 1
=========================== ======================= =========================================

with P(x) = E[σ(β(x − b_o(Z)))], Z the opponents' value that decides the win: for N symmetric
bidders the k-th highest of N − 1 values of the prior F (density
(N−1)!/((k−1)!(N−1−k)!) F^{N−1−k}(1 − F)^{k−1} f, Z ↦ b(Z) is the k-th highest competing bid for
any non-decreasing b), for two asymmetric bidders the other bidder's value. Bids are non-negative,
so an equilibrium solves the complementarity problem min(b(v), −r(v, b(v))) = 0 at every value.

Discretisation (:mod:`.smoothed_function_system`): the values' support is cut into cells (uniform,
width ≤ ``cell``/(β s) of the support, s ≥ 1 the steepest slope of b* in bids per support width,
refined geometrically towards both ends, where b̃ has features of size 1/β: zero bids below
v ≈ 1/β, a jump near the top); each cell bids one bid b_j at its midpoint and, as a competitor,
puts the cell's probability (Gauss–Legendre, ``nodes`` points) on that bid. The σ layer is wider
than a cell's bid range (at most ``cell``/β under b*), so P = Σ_j w_j σ(β(x − b_j)) converges
fast. Where b̃ jumps (the marginal value ν indifferent between two local maxima of ũ(v, ·)),
the cell holding the jump is split: a share θ of it bids a second bid h, the lower bid on the
part of the cell below ν, the higher above; each bid's first-order condition holds at its part's
midpoint and ũ(ν, h) = ũ(ν, b_j), so ν is placed to second order in the cell width (an
indifference at the cell's midpoint would place it to first order only, and the L2 distance of
two curves whose jumps differ by δ is the jump times √δ). The system is solved by a semismooth
Newton method (competing bids further than WINDOW/β from a bid count as won or lost, so the
Jacobian is a band in the bids' order, solved by sparse LU on large grids; backtracking on the
squared residual; where it fails, the
backtracking stalled at a local minimum of the squared residual that is not a root or the
iterations ran out, pseudo-transient continuation, which follows the bidders' gradient dynamics
with a pseudo-time step that grows into Newton's, then Newton again from where it ends) started
from the BNE b*, with rounds
(:mod:`.smoothed_function_rounds`) that split (or move to their best response) the cells that
a best response on a bid grid beats, and split the cell holding each jump that falls between
two cells (their midpoints straddle ν, so neither gains by the other's bid: all-pay's jump from
zero bids at its participation threshold). Where the start from b* fails, a converged solution
at a lower β is carried up in steps of β of at most :data:`LADDER_RATIO` (one step from β/2 did
not help), each solved on its own grid from the one before (:func:`transfer` moves a solution's
curve and jumps to another grid, as it does to the halved cells of the grid check, and to a
higher β first moves the boundary layers, where the jumps sit, towards the ends); a step that
fails is halved and retried (all-pay's pools at the top and Plum's jumps change with β: steps of
10 % fail at some β where steps of 1 % pass). A solution
is accepted when max |min(b, −r)| ≤ ``residual_tol``, no cell gains more than ``gap_tol`` by
another bid (a grid of 2000 bids on [0, max value], the best one polished by Newton steps on r),
and halving the cells moves b̃ by less than ``grid_tol`` in L2 under the prior (by quadrature
between the curves' points, :func:`l2_between`; the cells are halved until it does, at most
``max_halvings`` times and within ``max_cells``; the finer solution is kept). A gap is also
met by halving the cells, as long as it halves with them (a split's indifference holds at its
parts' bids, exact only as the cells shrink) and the cells stay within
:data:`GAP_REFINE_SHARE` of ``max_cells``.
The equilibrium is not linear even where the BNE is (first price on U[0, 1] bids 0 below
v ≈ 1/β and jumps near the top); :func:`.smoothed_function_terms.linear_class_gradient`
evaluates the same sums on linear profiles, whose root is the linear fixed point of
:mod:`.smoothed_linear`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from diffauction.equilibria.registry import known_bne
from diffauction.equilibria.smoothed import _composite_rule
from diffauction.equilibria.smoothed_function_rounds import solve_rounds, transfer
from diffauction.equilibria.smoothed_function_system import System
from diffauction.equilibria.smoothed_function_terms import (
    condition,
    kernels,
    midpoints,
)
from diffauction.equilibria.smoothed_linear import check_agents_and_units
from diffauction.game.priors import BetaPrior, UniformPrior

FUNCTION_FORMATS = ("first_price", "pay_as_bid", "all_pay")
#: The β ladder of :func:`solve`: a solution at a lower β is carried up in steps of at most
#: this ratio (a single step from β/2 fails where the start from b* fails), a failed step halved
#: (in log β) down to this ratio, at most this many solves.
LADDER_RATIO = 1.1
LADDER_MIN_RATIO = 1.002
LADDER_MAX_RUNGS = 120
#: Steps of the ladder longer than this ratio skip Newton's continuation fallback
#: (:meth:`System.newton`): a failed step is retried shorter, which costs less.
LADDER_FALLBACK_RATIO = 1.02
#: A best-response gap sends :func:`solve` to halved cells only while these stay within this
#: share of ``max_cells`` (a gap that persists on the largest grids costs the most to find).
GAP_REFINE_SHARE = 0.5
PRIOR_TYPES = (UniformPrior, BetaPrior)


@dataclass(frozen=True)
class SolverSettings:
    """Discretisation and tolerances of :func:`solve` (config
    ``smoothing_theory.function_solver``)."""

    cell: float = 1.0           # cell width ≤ cell/β of the support, and its b* range too
    min_cells: int = 100        # at least this many interior cells
    nodes: int = 6              # Gauss–Legendre points per opponent cell
    residual_tol: float = 1e-10  # max |min(b, −r)| over the cells
    gap_tol: float = 1e-8       # best-response gap (utility units)
    grid_tol: float = 1e-4      # L2 change of b̃ when the cells are halved
    max_iterations: int = 30    # Newton steps per solve
    max_jumps: int = 8          # best-response rounds (split or move cells)
    max_cells: int = 900        # larger refined grids (cells per class) are not attempted
    max_halvings: int = 3       # halvings of the cells at most in the grid check

    def __post_init__(self) -> None:
        checks = {"cell": self.cell > 0, "min_cells": self.min_cells >= 4,
                  "nodes": self.nodes >= 2, "residual_tol": self.residual_tol > 0,
                  "gap_tol": self.gap_tol > 0, "grid_tol": self.grid_tol > 0,
                  "max_iterations": self.max_iterations >= 1,
                  "max_jumps": self.max_jumps >= 0,
                  "max_cells": self.max_cells >= self.min_cells,
                  "max_halvings": self.max_halvings >= 1}
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"function_solver: bad value for {bad}: {self}")


@dataclass(frozen=True)
class FunctionGame:
    """A smoothed auction whose equilibrium is sought as bid functions: N symmetric bidders with
    one prior (``priors`` of length one), or two bidders with one prior each (Plum's setting)."""

    mechanism: str
    n_agents: int
    priors: tuple
    units: int = 1

    def __post_init__(self) -> None:
        if self.mechanism not in FUNCTION_FORMATS:
            raise ValueError(f"mechanism: {self.mechanism!r} has no smoothed bid-function "
                             f"solver; allowed: {list(FUNCTION_FORMATS)}")
        check_agents_and_units(self.mechanism, self.n_agents, self.units)
        if not all(isinstance(p, PRIOR_TYPES) for p in self.priors):
            raise ValueError(f"priors: only uniform and beta priors are supported, got "
                             f"{self.priors}")
        if len(self.priors) == 2:
            if self.n_agents != 2 or self.units != 1:
                raise ValueError("priors: asymmetric bidders are supported for N = 2, one item")
        elif len(self.priors) != 1:
            raise ValueError(f"priors: one prior (symmetric) or two (N = 2), got "
                             f"{len(self.priors)}")

    @property
    def classes(self) -> int:
        return len(self.priors)

    def opponent(self, c: int) -> int:
        return 1 - c if self.classes == 2 else c

    def deciding_density(self, c: int, z: np.ndarray) -> np.ndarray:
        """Density of the value Z whose bid decides class c's win (see the module docstring)."""
        prior = self.priors[self.opponent(c)]
        t = torch.from_numpy(np.asarray(z, float))
        f, big_f = prior.pdf(t).numpy(), prior.cdf(t).numpy()
        if self.classes == 2:
            return f
        others, k = self.n_agents - 1, self.units
        coef = math.factorial(others) / (math.factorial(k - 1) * math.factorial(others - k))
        return coef * big_f ** (others - k) * (1.0 - big_f) ** (k - 1) * f

    def bne(self, c: int, v: np.ndarray) -> np.ndarray:
        """b*(v) of class c."""
        priors = self.priors * (self.n_agents if self.classes == 1 else 1)
        known = known_bne(self.mechanism, priors, units=self.units)
        if known is None:
            raise ValueError(f"no BNE known for {self}")
        return known.bid(c, torch.from_numpy(np.asarray(v, float))).numpy()

    def bid_spread(self, c: int, points: int = 1025) -> float:
        """The largest slope of b* over class c's support, in bids per support width (finite
        differences on ``points`` values): a cell of width δ of the support bids over a range
        of about this times δ."""
        prior = self.priors[c]
        v = np.linspace(float(prior.low), float(prior.high), points)
        return float(np.max(np.diff(self.bne(c, v))) * (points - 1))


@dataclass
class Solution:
    """b̃_β: per class the bid curve (values, bids), the atoms (bids, probabilities) the other
    class bids against, and the convergence record."""

    game: FunctionGame
    beta: float
    values: list
    bids: list
    atoms: list
    residual: float = math.inf
    gap: float = math.inf
    grid_change: float = math.nan
    iterations: int = 0
    splits: int = 0
    cells: tuple = ()   # per class, the cells of the grid solved on
    converged: bool = False
    status: str = ""
    start: str = "b*"   # where the solver started: "b*", or the β ladder from a lower β

    def bid(self, c: int, v) -> np.ndarray:
        """b̃(v) of class c, interpolated linearly between the solved values."""
        return np.interp(np.asarray(v, float), self.values[c], self.bids[c])

    def marginal_utility(self, c: int, v, x) -> np.ndarray:
        """r(v, x) = ∂ũ(v, x)/∂x of class c against the other bidders playing b̃ (module
        table), with the discretisation the solver used."""
        m, w = self.atoms[c]
        v, x = np.broadcast_arrays(np.asarray(v, float), np.asarray(x, float))
        p, p1, p2 = kernels(x.ravel(), m, w, self.beta)
        return condition(self.game.mechanism, v.ravel(), x.ravel(), p, p1, p2)[0].reshape(
            v.shape)


def _solution(system, y: np.ndarray, **record) -> Solution:
    curves = system.curves(y)
    atoms = [system.atoms(y, c)[:2] for c in range(system.game.classes)]
    return Solution(system.game, system.beta, [v for v, _ in curves], [b for _, b in curves],
                    atoms, splits=len(system.splits),
                    cells=tuple(len(e) - 1 for e in system.edges), **record)


# ---------------------------------------------------------------------------
# grids and quadrature
# ---------------------------------------------------------------------------


def value_grid(prior, beta: float, settings: SolverSettings, refine: int = 1,
               spread: float = 1.0) -> np.ndarray:
    """Nodes on [low, high]: uniform cells of width ≤ cell/(β max(1, ``spread``)) (relative to
    the support; ``spread`` the bid range per support width, :meth:`FunctionGame.bid_spread`),
    with nodes at geometric distances 2^j/(4β) from both ends; ``refine`` splits every cell."""
    low, high = float(prior.low), float(prior.high)
    width = high - low
    cells = max(settings.min_cells, math.ceil(beta * max(1.0, spread) / settings.cell))
    near = width * np.exp2(np.arange(-2, 6)) / beta
    near = near[near < 0.25 * width]
    grid = np.unique(np.concatenate([np.linspace(low, high, cells + 1), low + near, high - near]))
    for _ in range(int(math.log2(refine))):
        grid = np.unique(np.concatenate([grid, 0.5 * (grid[1:] + grid[:-1])]))
    return grid


def grids(game: FunctionGame, beta: float, settings: SolverSettings, refine: int = 1) -> list:
    """Each class's :func:`value_grid` at β, its cells narrow enough that b* bids over less than
    cell/β in each (the σ layer, 1/β wide, stays wider than a cell's bid range: all-pay's b*
    rises by 2 per unit of value at the top for N = 3)."""
    return [value_grid(p, beta, settings, refine, game.bid_spread(c))
            for c, p in enumerate(game.priors)]


def _start(game: FunctionGame, edges: list) -> tuple:
    """(no splits, b* at the cells' midpoints): the solver's first start."""
    return (), np.concatenate([np.maximum(game.bne(c, midpoints(e)), 0.0)
                               for c, e in enumerate(edges)])


def _met(res: float, gap: float, settings: SolverSettings) -> bool:
    return res <= settings.residual_tol and gap <= settings.gap_tol


def _ladder(game: FunctionGame, beta: float, edges: list, settings: SolverSettings,
            below: Solution | None) -> tuple | None:
    """A start at β carried up from ``below`` (a converged solution at a lower β): geometric
    steps of β of at most :data:`LADDER_RATIO`, each solved on its own grid (no grid check) from
    the one before. A step that fails is halved and retried (the solution's jumps and pools
    change with β, and a long step lands off their branch); one that succeeds lets the next
    grow by half again. None where a step below :data:`LADDER_MIN_RATIO` fails or
    :data:`LADDER_MAX_RUNGS` solves did not reach β."""
    if below is None or not below.converged or below.beta >= beta:
        return None
    current, step = below, math.log(LADDER_RATIO)
    for _ in range(LADDER_MAX_RUNGS):
        rung = min(beta, current.beta * math.exp(step))
        rung_edges = grids(game, rung, settings)
        splits, first = transfer(current, rung_edges, beta=rung)
        system, y, res, gap, _ = solve_rounds(
            System(game, rung, rung_edges, settings.nodes, splits), first, settings,
            fallback=step < math.log(LADDER_FALLBACK_RATIO))
        if _met(res, gap, settings):
            current = _solution(system, y)
            if rung == beta:
                return transfer(current, edges)
            step = min(1.5 * step, math.log(LADDER_RATIO))
        else:
            step *= 0.5
            if step < math.log(LADDER_MIN_RATIO):
                return None
    return None


def _solve_on(game: FunctionGame, beta: float, edges: list, settings: SolverSettings,
              starts: list) -> tuple:
    """:func:`solve_rounds` at β from each start in turn ((splits, unknowns), or a callable
    returning one or None) until one meets both the residual and the gap tolerance; the best
    attempt otherwise (a root before a failed Newton, then the smaller gap).
    Returns (system, y, residual, gap, index of the start kept, iterations)."""
    best, its = None, 0
    for index, start in enumerate(starts):
        start = start() if callable(start) else start
        if start is None:
            continue
        splits, first = start
        system, y, res, gap, n = solve_rounds(System(game, beta, edges, settings.nodes, splits),
                                              first, settings)
        its += n
        rank = (res > settings.residual_tol, res if res > settings.residual_tol else gap)
        if best is None or rank < best[0]:
            best = (rank, system, y, res, gap, index)
        if _met(res, gap, settings):
            break
    return (*best[1:], its)


def solve(game: FunctionGame, beta: float, settings: SolverSettings | None = None,
          check_grid: bool = True, below: Solution | None = None) -> Solution:
    """b̃_β of ``game`` with the convergence record (module docstring); ``converged`` is False
    with ``status`` naming the failed test where a tolerance is not met. ``below``: a converged
    solution of the same game at a lower β, carried up to β (:func:`_ladder`) where the start
    from b* fails."""
    settings = settings or SolverSettings()
    if not (math.isfinite(beta) and beta > 0):
        raise ValueError(f"beta must be positive and finite, got {beta!r}")
    coarse = grids(game, beta, settings)
    if 2 * max(len(e) for e in coarse) > settings.max_cells:
        empty = [np.full(len(e) - 1, np.nan) for e in coarse]
        return Solution(game, beta, [midpoints(e) for e in coarse], empty, [], start="",
                        status=f"not attempted: the refined grid exceeds max_cells = "
                               f"{settings.max_cells}")
    system, y, res, gap, kept, its = _solve_on(
        game, beta, coarse, settings,
        [_start(game, coarse), lambda: _ladder(game, beta, coarse, settings, below)])
    out = _solution(system, y, residual=res, gap=gap, iterations=its,
                    start="b*" if kept == 0 else f"ladder from beta={below.beta:g}")
    refine, last_gap = 1, math.inf
    while True:
        if out.residual > settings.residual_tol:
            out.status = f"Newton: residual {out.residual:.1e} > {settings.residual_tol:.0e}"
            return out
        # a gap that halves with the cells (a split's indifference is exact only as the cells
        # shrink) gets finer cells, within GAP_REFINE_SHARE of max_cells
        gap_met = out.gap <= settings.gap_tol
        gap_status = f"best-response gap {out.gap:.1e} > {settings.gap_tol:.0e}"
        if not gap_met and (not check_grid or out.gap > last_gap / 2):
            out.status = gap_status
            return out
        if not check_grid or (gap_met and out.grid_change <= settings.grid_tol):
            break
        refine *= 2
        fine = grids(game, beta, settings, refine)
        cells = max(len(e) for e in fine)
        if (cells > settings.max_cells or refine > 2 ** settings.max_halvings
                or (not gap_met and cells > GAP_REFINE_SHARE * settings.max_cells)):
            out.status = gap_status if not gap_met else (
                f"grid change {out.grid_change:.1e} > {settings.grid_tol:.0e} after "
                f"{int(math.log2(refine)) - 1} halvings of the cells")
            return out
        system_f, y_f, res_f, gap_f, _, its_f = _solve_on(
            game, beta, fine, settings, [transfer(out, fine), _start(game, fine)])
        finer = _solution(system_f, y_f, residual=res_f, gap=gap_f,
                          iterations=out.iterations + its_f, start=out.start)
        finer.grid_change = max(l2_between(finer, out, c) for c in range(game.classes))
        out, last_gap = finer, out.gap
    out.converged = True
    out.status = "converged"
    return out


# ---------------------------------------------------------------------------
# distances
# ---------------------------------------------------------------------------


def l2_between(a: Solution, b_or_bne, c: int = 0, nodes: int = 4) -> float:
    """‖b̃ − g‖ in L2 under class c's prior, g another solution or a callable v ↦ bid: Gauss–
    Legendre (``nodes`` points) on the panels between the curves' points, where both are linear
    (a jump is a step between two points), so a jump's position counts to rounding."""
    prior = a.game.priors[c]
    low, high = float(prior.low), float(prior.high)
    points = [a.values[c]] + ([b_or_bne.values[c]] if isinstance(b_or_bne, Solution) else [])
    inner = np.concatenate(points)
    breaks = np.unique(np.concatenate([[low, high], inner[(inner > low) & (inner < high)]]))
    v, w = _composite_rule(breaks, nodes)
    other = b_or_bne.bid(c, v) if isinstance(b_or_bne, Solution) else b_or_bne(v)
    density = prior.pdf(torch.from_numpy(v)).numpy()
    return float(np.sqrt(np.sum(w * density * (a.bid(c, v) - other) ** 2)))


def l2_to_bne(solution: Solution, c: int = 0) -> float:
    """‖b̃_β − b*‖ in L2 under class c's prior."""
    return l2_between(solution, lambda v: solution.game.bne(c, v), c)
