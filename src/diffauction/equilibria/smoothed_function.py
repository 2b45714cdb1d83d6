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

Discretisation: each bid function is piecewise linear on a grid of its value support (uniform
cells of width ≤ ``cell``/β, refined geometrically towards both ends, where b̃ has features of
size 1/β: zero bids below v ≈ 1/β, pooling at the top); P, P' and P'' are composite
Gauss–Legendre sums over the opponent's cells (``nodes`` points each, exact for the piecewise
linear b_o), and the conditions are imposed at the grid nodes. The system is solved by a
semismooth Newton method with a dense Jacobian and a backtracking line search on ½‖min(b, −r)‖²,
started from the BNE b* (or from the solution at a lower β when that fails: β-continuation, ×2
per stage). A solution is accepted when max |min(b, −r)| ≤ ``residual_tol``, no bid on a grid
over [0, max value] (polished by Newton on the first-order condition) does better than b̃ by
more than ``gap_tol`` for any grid value, and halving the cells moves b̃ by less than
``grid_tol`` in L2 under the prior. The equilibrium is in general not linear even where the BNE
is (first price on U[0, 1] bids 0 below v ≈ 1/β); :func:`linear_class_gradient` evaluates the
same quadrature on linear profiles, whose root is the linear fixed point of
:mod:`.smoothed_linear`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.special import expit

from diffauction.equilibria.registry import known_bne
from diffauction.equilibria.smoothed import _gauss_legendre_01
from diffauction.equilibria.smoothed_linear import check_agents_and_units
from diffauction.game.priors import BetaPrior, UniformPrior

FUNCTION_FORMATS = ("first_price", "pay_as_bid", "all_pay")
PRIOR_TYPES = (UniformPrior, BetaPrior)


@dataclass(frozen=True)
class SolverSettings:
    """Discretisation and tolerances of :func:`solve` (config
    ``smoothing_theory.function_solver``)."""

    cell: float = 1.0           # interior cell width ≤ cell/β (in units of the support width)
    min_cells: int = 100        # at least this many interior cells
    nodes: int = 6              # Gauss–Legendre points per opponent cell
    residual_tol: float = 1e-10  # max |min(b, −r)| at the grid nodes
    gap_tol: float = 1e-8       # best-response gap (utility units)
    grid_tol: float = 1e-4      # L2 change of b̃ when the cells are halved
    max_iterations: int = 60    # Newton steps per β stage
    max_jumps: int = 8          # rounds of moving bids to a better local maximum
    beta_start: float = 25.0    # lowest β of the continuation
    max_cells: int = 1200       # larger grids (cells per class) are not attempted (cost)

    def __post_init__(self) -> None:
        checks = {"cell": self.cell > 0, "min_cells": self.min_cells >= 4,
                  "nodes": self.nodes >= 2, "residual_tol": self.residual_tol > 0,
                  "gap_tol": self.gap_tol > 0, "grid_tol": self.grid_tol > 0,
                  "max_iterations": self.max_iterations >= 1,
                  "max_jumps": self.max_jumps >= 0, "beta_start": self.beta_start > 0,
                  "max_cells": self.max_cells >= self.min_cells}
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


@dataclass
class Solution:
    """b̃_β: per class the value nodes and bids, and the convergence record."""

    game: FunctionGame
    beta: float
    edges: list
    bids: list
    residual: float = math.inf
    gap: float = math.inf
    grid_change: float = math.nan
    iterations: int = 0
    converged: bool = False
    status: str = ""
    history: list = field(default_factory=list)

    @property
    def values(self) -> list:
        """Per class the values at which the bids are solved (the cells' midpoints)."""
        return [midpoints(e) for e in self.edges]

    def bid(self, c: int, v) -> np.ndarray:
        """b̃(v) of class c, interpolated linearly between the cells' midpoints."""
        return np.interp(np.asarray(v, float), self.values[c], self.bids[c])

    def marginal_utility(self, c: int, v, x, nodes: int = 6) -> np.ndarray:
        """r(v, x) = ∂ũ(v, x)/∂x of class c against the other bidders playing b̃ (module
        table), with the discretisation the solver used."""
        o = self.game.opponent(c)
        masses = cell_masses(self.game, c, self.edges[o], nodes)
        v, x = np.broadcast_arrays(np.asarray(v, float), np.asarray(x, float))
        p, p1, p2, _, _ = _kernels(x.ravel(), self.bids[o], masses, self.beta)
        return _condition(self.game.mechanism, v.ravel(), x.ravel(), p, p1, p2)[0].reshape(
            v.shape)


# ---------------------------------------------------------------------------
# grids and quadrature
# ---------------------------------------------------------------------------


def value_grid(prior, beta: float, settings: SolverSettings, refine: int = 1) -> np.ndarray:
    """Nodes on [low, high]: uniform cells of width ≤ cell/β (relative to the support), with
    nodes at geometric distances 2^j/(4β) from both ends; ``refine`` splits every cell."""
    low, high = float(prior.low), float(prior.high)
    width = high - low
    cells = max(settings.min_cells, math.ceil(beta / settings.cell))
    near = width * np.exp2(np.arange(-2, 6)) / beta
    near = near[near < 0.25 * width]
    grid = np.unique(np.concatenate([np.linspace(low, high, cells + 1), low + near, high - near]))
    for _ in range(int(math.log2(refine))):
        grid = np.unique(np.concatenate([grid, 0.5 * (grid[1:] + grid[:-1])]))
    return grid


def midpoints(edges: np.ndarray) -> np.ndarray:
    return 0.5 * (edges[1:] + edges[:-1])


def cell_masses(game: FunctionGame, c: int, edges: np.ndarray, nodes: int) -> np.ndarray:
    """Probability of each cell of ``edges`` under the density of the value deciding class c's
    win (Gauss–Legendre, ``nodes`` points per cell)."""
    t, w = _gauss_legendre_01(nodes)
    length = np.diff(edges)
    z = edges[:-1, None] + length[:, None] * t
    return (length[:, None] * w * game.deciding_density(c, z.ravel()).reshape(z.shape)).sum(1)


def _kernels(x: np.ndarray, m: np.ndarray, weights: np.ndarray, beta: float):
    """(P, P', P'') at bids x against competing bids m_q with weights w_q, and the per-node
    kernels K1 = βσ(1 − σ)w, K2 = β²σ(1 − σ)(1 − 2σ)w ([len(x), Q])."""
    s = expit(beta * (x[:, None] - m[None, :]))
    d = s * (1.0 - s)
    k1 = beta * d * weights
    k2 = beta * (1.0 - 2.0 * s) * k1
    return s @ weights, k1.sum(axis=1), k2.sum(axis=1), k1, k2


def win_probability(x, competing_bids, masses, beta: float) -> np.ndarray:
    """P(x) = Σ_j w_j σ(β(x − m_j)) against competing bids m_j of probabilities w_j."""
    return expit(beta * (np.asarray(x, float)[..., None] - competing_bids)) @ masses


def _utility(mechanism: str, v, x, p):
    return (v - x) * p if mechanism != "all_pay" else v * p - x


def _condition(mechanism: str, v, x, p, p1, p2):
    """(r, ∂r/∂x) of the first-order condition (module table)."""
    if mechanism == "all_pay":
        return v * p1 - 1.0, v * p2
    return (v - x) * p1 - p, (v - x) * p2 - 2.0 * p1


# ---------------------------------------------------------------------------
# Newton's method
# ---------------------------------------------------------------------------


class _System:
    """The discrete complementarity system of one game at one β: per class the bids b_j at the
    midpoints v_j of the cells of ``edges``; the competing bid is b_o(v_j) with the cell's
    probability (the σ layer is wider than a cell's bid range, so this sum converges fast)."""

    def __init__(self, game: FunctionGame, beta: float, edges: list, nodes: int):
        self.game, self.beta = game, beta
        self.values = [midpoints(e) for e in edges]
        self.masses = [cell_masses(game, c, edges[game.opponent(c)], nodes)
                       for c in range(game.classes)]
        self.offsets = np.cumsum([0] + [len(v) for v in self.values])

    def split(self, b: np.ndarray) -> list:
        return [b[self.offsets[c]:self.offsets[c + 1]] for c in range(self.game.classes)]

    def evaluate(self, b: np.ndarray, jacobian: bool = True):
        """(Φ = min(b, −r), r, and the semismooth Jacobian of Φ when asked)."""
        parts = self.split(b)
        size = len(b)
        r_all = np.empty(size)
        jac = np.zeros((size, size)) if jacobian else None
        for c in range(self.game.classes):
            o = self.game.opponent(c)
            v, x = self.values[c], parts[c]
            p, p1, p2, k1, k2 = _kernels(x, parts[o], self.masses[c], self.beta)
            r, dr_dx = _condition(self.game.mechanism, v, x, p, p1, p2)
            rows = slice(self.offsets[c], self.offsets[c + 1])
            r_all[rows] = r
            if jacobian:
                # ∂P/∂m_j = −K1_j, ∂P'/∂m_j = −K2_j
                own = -v[:, None] * k2 if self.game.mechanism == "all_pay" \
                    else k1 - (v - x)[:, None] * k2
                jac[rows, self.offsets[o]:self.offsets[o + 1]] += own
                jac[rows, rows] += np.diag(dr_dx)
        phi = np.minimum(b, -r_all)
        if jacobian:
            active = b <= -r_all
            jac = -jac
            jac[active] = 0.0
            jac[active, np.nonzero(active)[0]] = 1.0
        return phi, r_all, jac

    def newton(self, b: np.ndarray, tol: float, max_iterations: int) -> tuple:
        """Semismooth Newton with backtracking on ½‖Φ‖²: (b, max|Φ|, iterations)."""
        phi, _, jac = self.evaluate(b)
        merit = 0.5 * phi @ phi
        for it in range(1, max_iterations + 1):
            if np.abs(phi).max() <= tol:
                return b, float(np.abs(phi).max()), it - 1
            try:
                step = np.linalg.solve(jac, -phi)
            except np.linalg.LinAlgError:
                step = np.linalg.lstsq(jac, -phi, rcond=None)[0]
            alpha = 1.0
            while alpha > 1e-6:
                trial = np.maximum(b + alpha * step, 0.0)
                phi_t, _, _ = self.evaluate(trial, jacobian=False)
                merit_t = 0.5 * phi_t @ phi_t
                if merit_t <= (1.0 - 1e-4 * alpha) * merit:
                    break
                alpha *= 0.5
            else:
                return b, float(np.abs(phi).max()), it
            b = trial
            phi, _, jac = self.evaluate(b)
            merit = 0.5 * phi @ phi
        return b, float(np.abs(phi).max()), max_iterations

    def best_responses(self, b: np.ndarray, points: int = 2000, polish: int = 4) -> tuple:
        """(best bids, gains max_x ũ(v, x) − ũ(v, b(v))) at every grid value: x on a grid over
        [0, max value] (``points`` bids), the best grid bid polished by Newton steps on r."""
        parts = self.split(b)
        mech = self.game.mechanism
        top = float(max(v[-1] for v in self.values))
        xs = np.linspace(0.0, top, points)
        best_bids, gains = [], []
        for c in range(self.game.classes):
            v, w = self.values[c], self.masses[c]
            m = parts[self.game.opponent(c)]
            u_grid = _utility(mech, v[:, None], xs[None, :], win_probability(xs, m, w, self.beta))
            x = xs[np.argmax(u_grid, axis=1)]
            for _ in range(polish):
                p, p1, p2, _, _ = _kernels(x, m, w, self.beta)
                r, dr = _condition(mech, v, x, p, p1, p2)
                x = np.where(dr < 0, np.maximum(x - r / np.where(dr < 0, dr, -1.0), 0.0), x)
            u_best = _utility(mech, v, x, win_probability(x, m, w, self.beta))
            x = np.where(u_best >= u_grid.max(axis=1), x, xs[np.argmax(u_grid, axis=1)])
            u_best = np.maximum(u_best, u_grid.max(axis=1))
            u_own = _utility(mech, v, parts[c], win_probability(parts[c], m, w, self.beta))
            best_bids.append(x)
            gains.append(np.maximum(u_best - u_own, 0.0))
        return np.concatenate(best_bids), np.concatenate(gains)

    def solve(self, b: np.ndarray, settings: SolverSettings) -> tuple:
        """Newton, then while some grid value has a better response than its bid by more than
        ``gap_tol`` (another local maximum of ũ(v, ·): b̃ jumps there), move those bids to it
        and solve again: (b, residual, gap, iterations)."""
        its, gap = 0, math.inf
        for _ in range(settings.max_jumps + 1):
            b, res, n = self.newton(b, settings.residual_tol, settings.max_iterations)
            its += n
            if res > settings.residual_tol:
                return b, res, gap, its
            best, gains = self.best_responses(b)
            if gains.max() <= settings.gap_tol or gains.max() >= gap:
                gap = min(gap, float(gains.max()))
                break
            gap = float(gains.max())
            b = np.where(gains > settings.gap_tol, best, b)
        return b, res, gap, its


def _start(game: FunctionGame, edges: list) -> np.ndarray:
    return np.concatenate([np.maximum(game.bne(c, midpoints(e)), 0.0)
                           for c, e in enumerate(edges)])


def _solve_on(game: FunctionGame, beta: float, grids: list, settings: SolverSettings,
              start: np.ndarray | None) -> tuple:
    """:meth:`_System.solve` at β from ``start`` (or b*); on failure β-continuation from
    ``beta_start`` (×2 per stage): (system, b, residual, gap, iterations, history)."""
    system = _System(game, beta, grids, settings.nodes)
    first = _start(game, grids) if start is None else start
    b, res, gap, its = system.solve(first, settings)
    history = [(beta, res, gap, its)]
    if res <= settings.residual_tol and gap <= settings.gap_tol:
        return system, b, res, gap, its, history
    stages = [beta]
    while stages[-1] / 2.0 >= settings.beta_start:
        stages.append(stages[-1] / 2.0)
    b = _start(game, grids)
    total = its
    for stage in sorted(stages) if len(stages) > 1 else []:
        system = _System(game, stage, grids, settings.nodes)
        b, res, gap, its = system.solve(b, settings)
        history.append((stage, res, gap, its))
        total += its
        if res > settings.residual_tol:
            break
    return system, b, res, gap, total, history


def solve(game: FunctionGame, beta: float, settings: SolverSettings | None = None,
          check_grid: bool = True) -> Solution:
    """b̃_β of ``game`` with the convergence record (module docstring); ``converged`` is False
    with ``status`` naming the failed test where a tolerance is not met."""
    settings = settings or SolverSettings()
    if not (math.isfinite(beta) and beta > 0):
        raise ValueError(f"beta must be positive and finite, got {beta!r}")
    coarse = [value_grid(p, beta, settings) for p in game.priors]
    if 2 * max(len(e) for e in coarse) > settings.max_cells:
        return Solution(game, beta, coarse, [np.full(len(e) - 1, np.nan) for e in coarse],
                        status=f"not attempted: the refined grid exceeds max_cells = "
                               f"{settings.max_cells}")
    system, b, res, gap, its, history = _solve_on(game, beta, coarse, settings, None)
    out = Solution(game, beta, coarse, system.split(b), residual=res, gap=gap,
                   iterations=its, history=history)
    if res > settings.residual_tol:
        out.status = f"Newton: residual {res:.1e} > {settings.residual_tol:.0e}"
        return out
    if gap > settings.gap_tol:
        out.status = f"best-response gap {gap:.1e} > {settings.gap_tol:.0e}"
        return out
    if check_grid:
        fine = [value_grid(p, beta, settings, refine=2) for p in game.priors]
        start = np.concatenate([out.bid(c, midpoints(f)) for c, f in enumerate(fine)])
        system_f, b_f, res_f, gap_f, _, _ = _solve_on(game, beta, fine, settings, start)
        if res_f > settings.residual_tol or gap_f > settings.gap_tol:
            out.status = f"refined grid: residual {res_f:.1e}, gap {gap_f:.1e}"
            return out
        refined = Solution(game, beta, fine, system_f.split(b_f), residual=res_f, gap=gap_f)
        out.grid_change = max(l2_between(refined, out, c) for c in range(game.classes))
        if out.grid_change > settings.grid_tol:
            out.status = f"grid change {out.grid_change:.1e} > {settings.grid_tol:.0e}"
            return out
    out.converged = True
    out.status = "converged"
    return out


# ---------------------------------------------------------------------------
# distances and the linear class
# ---------------------------------------------------------------------------


def prior_nodes(prior, count: int = 4096) -> np.ndarray:
    """Values F⁻¹((k + ½)/K): their plain mean is an expectation under the prior."""
    u = (torch.arange(count, dtype=torch.float64) + 0.5) / count
    return prior.transform(u).numpy()


def l2_between(a: Solution, b_or_bne, c: int = 0, count: int = 4096) -> float:
    """‖b̃ − g‖ in L2 under class c's prior, g another solution or a callable v ↦ bid."""
    v = prior_nodes(a.game.priors[c], count)
    other = b_or_bne.bid(c, v) if isinstance(b_or_bne, Solution) else b_or_bne(v)
    return float(np.sqrt(np.mean((a.bid(c, v) - other) ** 2)))


def l2_to_bne(solution: Solution, c: int = 0) -> float:
    """‖b̃_β − b*‖ in L2 under class c's prior."""
    return l2_between(solution, lambda v: solution.game.bne(c, v), c)


def linear_class_gradient(game: FunctionGame, w, beta: float, cells: int = 2000,
                          nodes: int = 6) -> np.ndarray:
    """E[v ∂ũ/∂x] at x = w v against opponents bidding w v (the symmetric gradient of the
    linear class), by this module's discretisation on ``cells`` uniform cells; its root is the
    linear fixed point w̃ of :mod:`.smoothed_linear`."""
    if game.classes != 1:
        raise ValueError("linear_class_gradient: symmetric games only")
    prior = game.priors[0]
    edges = np.linspace(float(prior.low), float(prior.high), cells + 1)
    v = midpoints(edges)
    masses = cell_masses(game, 0, edges, nodes)
    own = np.diff(prior.cdf(torch.from_numpy(edges)).numpy())
    out = []
    for slope in np.atleast_1d(np.asarray(w, float)):
        x = slope * v
        p, p1, p2, _, _ = _kernels(x, x, masses, beta)
        out.append(float(np.sum(own * v * _condition(game.mechanism, v, x, p, p1, p2)[0])))
    return np.asarray(out).reshape(np.shape(w))
