"""The discrete system behind :mod:`.smoothed_function`: bids at cell midpoints, competing bids
as atoms with the cells' probabilities, the complementarity conditions min(b, −r) = 0 with split
cells at jumps of b̃, and a semismooth Newton method (pseudo-transient continuation where its line
search stalls) with best-response rounds."""

from __future__ import annotations

import math

import numpy as np
from scipy.special import expit

from diffauction.equilibria.smoothed_function_terms import (
    cell_masses,
    condition,
    kernels,
    midpoints,
    utility,
    win_probability,
)

# ---------------------------------------------------------------------------
# Newton's method
# ---------------------------------------------------------------------------

#: Newton's backtracking gives up below this step (2^-10): further halvings only creep along a
#: local minimum of ½‖F‖², where :meth:`System.continuation` takes over.
MIN_STEP = 2.0 ** -10
#: Pseudo-transient continuation: steps at most, and the first pseudo-time step Δt.
CONTINUATION_ITERATIONS = 40
CONTINUATION_DT = 0.05
#: Continuation stops after this many steps in a row without a new smallest ‖F‖.
CONTINUATION_STALL = 8


def _solve_linear(matrix: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.solve(matrix, rhs)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(matrix, rhs, rcond=None)[0]


def _atom_terms(mechanism: str, v, x, m, w, beta: float, derivatives: bool = True) -> dict:
    """At bids x of values v against atoms (bids m_j, probabilities w_j): u, r = ∂u/∂x, ∂r/∂x,
    and (with ``derivatives``) the derivatives of u and r in every m_j and w_j
    ([len(x), len(m)])."""
    s = expit(beta * (x[:, None] - m[None, :]))
    d = s * (1.0 - s)
    k1 = beta * d
    k2 = beta * (1.0 - 2.0 * s) * k1
    p, p1, p2 = s @ w, k1 @ w, k2 @ w
    r, dr_dx = condition(mechanism, v, x, p, p1, p2)
    if not derivatives:  # the residual alone (line searches)
        return {"u": utility(mechanism, v, x, p), "r": r}
    # ∂P/∂m_j = −K1_j w_j, ∂P'/∂m_j = −K2_j w_j, ∂P/∂w_j = σ_j, ∂P'/∂w_j = K1_j
    scale = (v if mechanism == "all_pay" else v - x)[:, None]
    du_dm, du_dw = -scale * k1 * w, scale * s
    if mechanism == "all_pay":
        dr_dm, dr_dw = -scale * k2 * w, scale * k1
    else:
        dr_dm, dr_dw = -scale * k2 * w + k1 * w, scale * k1 - s
    return {"u": utility(mechanism, v, x, p), "r": r, "dr_dx": dr_dx, "du_dm": du_dm,
            "du_dw": du_dw, "dr_dm": dr_dm, "dr_dw": dr_dw}


class System:
    """The discrete complementarity system of one game at one β: per class the bids b_j at the
    midpoints v_j of the cells of ``edges``; the competing bid is b_o(v_j) with the cell's
    probability (the σ layer is wider than a cell's bid range, so this sum converges fast).

    A cell listed in ``splits`` holds the jump of b̃ (its marginal value is indifferent between
    two bids): a share 1 − θ of its probability bids b_j, the share θ bids a second bid h; the
    unknowns h and θ come with the equations r(v_j, h) = 0 and ũ(v_j, h) = ũ(v_j, b_j). The
    unknown vector is [b of every class, h of every split, θ of every split]."""

    def __init__(self, game, beta: float, edges: list, nodes: int,
                 splits: tuple = ()):
        self.game, self.beta, self.splits, self.edges = game, beta, tuple(splits), edges
        self.values = [midpoints(e) for e in edges]
        self.masses = [cell_masses(game, c, edges[game.opponent(c)], nodes)
                       for c in range(game.classes)]
        self.offsets = np.cumsum([0] + [len(v) for v in self.values])
        self.n = int(self.offsets[-1])

    def split(self, y: np.ndarray) -> list:
        return [y[self.offsets[c]:self.offsets[c + 1]] for c in range(self.game.classes)]

    def atoms(self, y: np.ndarray, c: int) -> tuple:
        """(bids, probabilities, unknown index of each bid) of the atoms class c bids against."""
        o, count = self.game.opponent(c), len(self.splits)
        parts, w = self.split(y), self.masses[c].copy()
        bids, index = [parts[o]], [np.arange(self.offsets[o], self.offsets[o + 1])]
        extra = []
        for t, (cls, cell) in enumerate(self.splits):
            if cls == o:
                theta = y[self.n + count + t]
                extra.append(w[cell] * theta)
                w[cell] *= 1.0 - theta
                bids.append(y[[self.n + t]])
                index.append(np.array([self.n + t]))
        return np.concatenate(bids), np.concatenate([w] + [np.atleast_1d(e) for e in extra]), \
            np.concatenate(index)

    def evaluate(self, y: np.ndarray, jacobian: bool = True):
        """(F, r at the cells, Jacobian of F when asked): F = min(b, −r) at the cells, then
        r(v, h) and ũ(v, h) − ũ(v, b) for every split."""
        mech, count, size = self.game.mechanism, len(self.splits), len(y)
        parts = self.split(y)
        f = np.empty(size)
        jac = np.zeros((size, size)) if jacobian else None
        for c in range(self.game.classes):
            o = self.game.opponent(c)
            m, w, index = self.atoms(y, c)
            own = [t for t, (cls, _) in enumerate(self.splits) if cls == c]
            cells = [cell for cls, cell in self.splits if cls == c]
            v = np.concatenate([self.values[c], self.values[c][cells]])
            x = np.concatenate([parts[c], y[[self.n + t for t in own]]])
            terms = _atom_terms(mech, v, x, m, w, self.beta, derivatives=jacobian)
            n_c = len(parts[c])
            rows = np.arange(self.offsets[c], self.offsets[c + 1])
            f[rows] = terms["r"][:n_c]
            split_rows = [self.n + t for t in own]
            f[split_rows] = terms["r"][n_c:]
            theta_rows = [self.n + count + t for t in own]
            f[theta_rows] = terms["u"][n_c:] - terms["u"][cells]
            if not jacobian:
                continue
            all_rows = np.concatenate([rows, split_rows]).astype(int)
            own_cols = np.concatenate([rows, split_rows]).astype(int)
            dr = terms["dr_dm"]
            # every (row, atom) pair occurs once, so a fancy-index add is np.add.at's sum
            jac[all_rows[:, None], index[None, :]] += dr
            jac[own_cols, own_cols] += terms["dr_dx"]
            du = terms["du_dm"][n_c:] - terms["du_dm"][cells]
            jac[np.array(theta_rows, int)[:, None], index[None, :]] += du
            for i, t in enumerate(own):
                jac[theta_rows[i], self.n + t] += terms["r"][n_c + i]
                jac[theta_rows[i], self.offsets[c] + cells[i]] -= terms["r"][cells[i]]
            # θ of the opponent's splits moves probability from the cell's atom to its h atom
            dw = np.vstack([terms["dr_dw"], terms["du_dw"][n_c:] - terms["du_dw"][cells]])
            dw_rows = np.concatenate([all_rows, theta_rows]).astype(int)
            position = len(parts[o])
            for t, (cls, cell) in enumerate(self.splits):
                if cls != o:
                    continue
                mass = self.masses[c][cell]
                jac[dw_rows, self.n + count + t] += mass * (dw[:, position] - dw[:, cell])
                position += 1
        b = y[:self.n]
        phi = f.copy()
        phi[:self.n] = np.minimum(b, -f[:self.n])
        if jacobian:
            active = np.nonzero(b <= -f[:self.n])[0]
            jac[:self.n] *= -1.0
            jac[active] = 0.0
            jac[active, active] = 1.0
        return phi, f[:self.n], jac

    def project(self, y: np.ndarray) -> np.ndarray:
        y = y.copy()
        y[:self.n + len(self.splits)] = np.maximum(y[:self.n + len(self.splits)], 0.0)
        y[self.n + len(self.splits):] = np.clip(y[self.n + len(self.splits):], 0.0, 1.0)
        return y

    def newton(self, y: np.ndarray, tol: float, max_iterations: int) -> tuple:
        """Semismooth Newton with backtracking on ½‖F‖² from ``y``; where its line search stalls,
        pseudo-transient continuation from ``y`` (:meth:`continuation`) and Newton again from
        where that ends: (y, max|F|, iterations) of the smallest residual reached."""
        best = self._damped_newton(y, tol, max_iterations)
        if best[1] <= tol:
            return best
        y_c, res_c, its_c = self.continuation(y, tol)
        its = best[2] + its_c
        if res_c > tol:
            y_n, res_n, its_n = self._damped_newton(y_c, tol, max_iterations)
            its += its_n
            if res_n < res_c:
                y_c, res_c = y_n, res_n
        return (y_c, res_c, its) if res_c < best[1] else (best[0], best[1], its)

    def _damped_newton(self, y: np.ndarray, tol: float, max_iterations: int) -> tuple:
        """Semismooth Newton with Armijo backtracking on ½‖F‖²; gives up when the step falls
        below :data:`MIN_STEP` (a stall: a local minimum of the merit function that is not a
        root): (y, max|F|, iterations)."""
        phi, _, jac = self.evaluate(y)
        merit = 0.5 * phi @ phi
        for it in range(1, max_iterations + 1):
            if np.abs(phi).max() <= tol:
                return y, float(np.abs(phi).max()), it - 1
            step = _solve_linear(jac, -phi)
            alpha = 1.0
            while alpha >= MIN_STEP:
                trial = self.project(y + alpha * step)
                phi_t, _, _ = self.evaluate(trial, jacobian=False)
                merit_t = 0.5 * phi_t @ phi_t
                if merit_t <= (1.0 - 1e-4 * alpha) * merit:
                    break
                alpha *= 0.5
            else:
                return y, float(np.abs(phi).max()), it
            y = trial
            phi, _, jac = self.evaluate(y)
            merit = 0.5 * phi @ phi
        return y, float(np.abs(phi).max()), max_iterations

    def continuation(self, y: np.ndarray, tol: float,
                     iterations: int = CONTINUATION_ITERATIONS) -> tuple:
        """Pseudo-transient continuation (Kelley and Keyes 1998): steps
        (J + D/Δt) s = −F, Δt grown by switched evolution relaxation (Δt ← Δt‖F_old‖/‖F‖,
        Mulder and van Leer 1985). D is +1 on the cells' rows (F = min(b, −r): a small Δt moves
        each bid up its own marginal utility, the learners' gradient dynamics), −1 on the
        second bids' rows (F = r) and 0 on the shares θ; as Δt grows the steps become Newton's.
        It follows the dynamics past the merit function's local minima where the line search
        stalls. Stops at ``tol``, after ``iterations`` steps, when ‖F‖ grows tenfold, or when
        :data:`CONTINUATION_STALL` steps in a row bring ‖F‖ below no earlier value (the
        dynamics stalled too): (y of the smallest ‖F‖, its max|F|, iterations)."""
        count = len(self.splits)
        sign = np.zeros(len(y))
        sign[:self.n], sign[self.n:self.n + count] = 1.0, -1.0
        phi, _, jac = self.evaluate(y)
        norm = first = best_norm = float(np.linalg.norm(phi))
        best, best_it, dt = (y, float(np.abs(phi).max())), 0, CONTINUATION_DT
        for it in range(1, iterations + 1):
            if best[1] <= tol:
                return best[0], best[1], it - 1
            y = self.project(y + _solve_linear(jac + np.diag(sign / dt), -phi))
            phi, _, jac = self.evaluate(y)
            new = float(np.linalg.norm(phi))
            dt = min(dt * min(max(norm / max(new, 1e-300), 0.5), 2.0), 1e12)
            norm = new
            if norm < best_norm:
                best_norm, best, best_it = norm, (y, float(np.abs(phi).max())), it
            if norm > 10.0 * first or it - best_it >= CONTINUATION_STALL:
                break
        return best[0], best[1], it

    def best_responses(self, y: np.ndarray, points: int = 2000, polish: int = 4) -> tuple:
        """(best bids, gains max_x ũ(v, x) − ũ(v, b(v))) at every cell: x on a grid over
        [0, max value] (``points`` bids), the best grid bid polished by Newton steps on r."""
        parts = self.split(y)
        mech = self.game.mechanism
        top = float(max(v[-1] for v in self.values))
        xs = np.linspace(0.0, top, points)
        best_bids, gains = [], []
        for c in range(self.game.classes):
            v = self.values[c]
            m, w, _ = self.atoms(y, c)
            u_grid = utility(mech, v[:, None], xs[None, :], win_probability(xs, m, w, self.beta))
            x = xs[np.argmax(u_grid, axis=1)]
            for _ in range(polish):
                p, p1, p2, _, _ = kernels(x, m, w, self.beta)
                r, dr = condition(mech, v, x, p, p1, p2)
                x = np.where(dr < 0, np.maximum(x - r / np.where(dr < 0, dr, -1.0), 0.0), x)
            u_best = utility(mech, v, x, win_probability(x, m, w, self.beta))
            x = np.where(u_best >= u_grid.max(axis=1), x, xs[np.argmax(u_grid, axis=1)])
            u_best = np.maximum(u_best, u_grid.max(axis=1))
            u_own = utility(mech, v, parts[c], win_probability(parts[c], m, w, self.beta))
            best_bids.append(x)
            gains.append(np.maximum(u_best - u_own, 0.0))
        return np.concatenate(best_bids), np.concatenate(gains)

    def solve(self, y: np.ndarray, settings) -> tuple:
        """Newton, then while some cell has a better response than its bid by more than
        ``gap_tol`` (another local maximum of ũ(v, ·): b̃ jumps there), make the cell of the
        largest gain a split cell (or, if it is one, move the bids of every such cell to their
        best responses) and solve again; a round whose Newton fails is undone:
        (system, y, residual, gap, iterations)."""
        y, res, its = self.newton(y, settings.residual_tol, settings.max_iterations)
        if res > settings.residual_tol:
            return self, y, res, math.inf, its
        system = self
        for _ in range(settings.max_jumps + 1):
            system, y = system._settle_splits(y)
            best, gains = system.best_responses(y)
            gap = float(gains.max())
            if gap <= settings.gap_tol:
                break
            worst = int(np.argmax(gains))
            c = int(np.searchsorted(system.offsets, worst, side="right") - 1)
            cell = (c, worst - int(system.offsets[c]))
            moving = gains > settings.gap_tol
            moved = y.copy()
            moved[:system.n] = np.where(moving, best, y[:system.n])
            trials = [(system, moved)]
            if cell not in system.splits:
                trials.insert(0, system._with_split(cell, y, best[worst]))
            # a jump: the first cell that gains is split, the ones past it move over
            first = int(np.argmax(moving))
            c = int(np.searchsorted(system.offsets, first, side="right") - 1)
            edge = (c, first - int(system.offsets[c]))
            if edge not in system.splits and moving.sum() > 1:
                kept = moved.copy()
                kept[first] = y[first]
                trials.insert(0, system._with_split(edge, kept, best[first]))
            for trial_system, trial in trials:
                trial, res_t, n = trial_system.newton(trial, settings.residual_tol,
                                                      settings.max_iterations)
                its += n
                if res_t <= settings.residual_tol:
                    system, y, res = trial_system, trial, res_t
                    break
            else:
                break
        return system, y, res, gap, its

    def _with_split(self, cell: tuple, y: np.ndarray, bid: float) -> tuple:
        count = len(self.splits)
        other = System.__new__(System)
        other.__dict__.update(self.__dict__)
        other.splits = self.splits + (cell,)
        h, theta = y[self.n:self.n + count], y[self.n + count:]
        return other, np.concatenate([y[:self.n], h, [bid], theta, [0.5]])

    def _settle_splits(self, y: np.ndarray) -> tuple:
        """Drop splits whose share θ reached 0 or 1 (the whole cell bids one of the two)."""
        count = len(self.splits)
        theta = y[self.n + count:]
        keep = [t for t in range(count) if 0.0 < theta[t] < 1.0]
        if len(keep) == count:
            return self, y
        y = y.copy()
        for t in range(count):
            if theta[t] >= 1.0:
                cls, cell = self.splits[t]
                y[self.offsets[cls] + cell] = y[self.n + t]
        other = System.__new__(System)
        other.__dict__.update(self.__dict__)
        other.splits = tuple(self.splits[t] for t in keep)
        h = y[self.n:self.n + count][keep]
        return other, np.concatenate([y[:self.n], h, theta[keep]])

    def curves(self, y: np.ndarray) -> list:
        """Per class (values, bids) for interpolation: the cells' midpoints; a split cell
        becomes a step at its jump value e_j + (1 − θ)(e_{j+1} − e_j), each side continued to
        it with the slope of its neighbouring cell."""
        count, out = len(self.splits), []
        for c, part in enumerate(self.split(y)):
            v, b = list(self.values[c]), list(part)
            for t, (cls, cell) in sorted(enumerate(self.splits), key=lambda e: -e[1][1]):
                if cls != c or not 0 < cell < len(part) - 1:
                    continue
                theta, other = y[self.n + count + t], y[self.n + t]
                # the lower bid goes to the lower values of the cell
                low, high = sorted((part[cell], other))
                low_share = 1.0 - theta if part[cell] <= other else theta
                left, right = self.edges[c][cell], self.edges[c][cell + 1]
                jump = left + low_share * (right - left)
                lo_mid, hi_mid = 0.5 * (left + jump), 0.5 * (jump + right)
                below = (low - part[cell - 1]) / (lo_mid - self.values[c][cell - 1])
                above = (part[cell + 1] - high) / (self.values[c][cell + 1] - hi_mid)
                v[cell:cell + 1] = [lo_mid, jump, np.nextafter(jump, np.inf), hi_mid]
                b[cell:cell + 1] = [low, low + below * (jump - lo_mid),
                                    high - above * (hi_mid - jump), high]
            out.append((np.array(v), np.array(b)))
        return out

    def refined(self, y: np.ndarray, fine_edges: list) -> tuple:
        """(splits, unknowns) on ``fine_edges`` (every cell halved) from the solution ``y``: the
        bids interpolated, a split cell's jump kept in the half that holds it."""
        count = len(self.splits)
        parts = [np.interp(midpoints(f), v, b)
                 for f, (v, b) in zip(fine_edges, self.curves(y), strict=True)]
        splits, highs, thetas = [], [], []
        for t, (c, cell) in enumerate(self.splits):
            theta, other, own = y[self.n + count + t], y[self.n + t], self.split(y)[c][cell]
            low, high = sorted((own, other))
            low_share = 1.0 - theta if own <= other else theta
            half = 2 * cell + (low_share > 0.5)  # the fine cell holding the jump
            parts[c][2 * cell:2 * cell + 2] = [low, high]
            parts[c][half] = low
            splits.append((c, half))
            highs.append(high)
            thetas.append(1.0 - 2.0 * low_share if low_share <= 0.5 else 2.0 - 2.0 * low_share)
        return tuple(splits), np.concatenate(parts + [np.array(highs), np.array(thetas)])

