"""The discrete system behind :mod:`.smoothed_function`: bids at cell midpoints, competing bids
as atoms with the cells' probabilities, the complementarity conditions min(b, −r) = 0 with split
cells at jumps of b̃, and a semismooth Newton method (pseudo-transient continuation where it
fails); the best-response rounds around it are :mod:`.smoothed_function_rounds`."""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import splu
from scipy.special import expit

from diffauction.equilibria.smoothed_function_terms import (
    cell_masses,
    condition,
    kernels,
    midpoints,
    utility,
)
from diffauction.equilibria.smoothed_window import windowed_sums

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
#: Newton systems up to this size are solved dense (faster than sparse LU there).
DENSE_SIZE = 2000


def _solve_linear(matrix, rhs: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Solve the sparse Newton system with the unknowns in ``order`` (by bid: the Jacobian of
    unknowns that bid near each other is a band, which sparse LU in that order fills little;
    dense up to :data:`DENSE_SIZE` unknowns, where LAPACK is faster); least squares where it is
    singular."""
    if len(rhs) <= DENSE_SIZE:
        dense = matrix.toarray()
        try:
            return np.linalg.solve(dense, rhs)
        except np.linalg.LinAlgError:
            return np.linalg.lstsq(dense, rhs, rcond=None)[0]
    permuted = sparse.csc_matrix(matrix[order][:, order])
    out = np.empty_like(rhs)
    try:
        out[order] = splu(permuted, permc_spec="NATURAL").solve(rhs[order])
    except RuntimeError:  # exactly singular
        out[order] = np.linalg.lstsq(permuted.toarray(), rhs[order], rcond=None)[0]
    return out


def _atom_terms(mechanism: str, v, x, m, w, beta: float, derivatives: bool = True) -> dict:
    """At bids x of values v against atoms (bids m_j, probabilities w_j): u, r = ∂u/∂x, ∂r/∂x,
    and (with ``derivatives``) the derivatives of u and r in the atoms within the window
    (``du_dm``, ``dr_dm`` on [len(x), width], the atoms' positions in m ``atoms``; the others
    move neither). Atoms below the window count as won, those above as lost
    (:data:`.smoothed_window.WINDOW`)."""
    p, s, weights, order, cols, valid = windowed_sums(x, m, w, beta)
    k1 = beta * s * (1.0 - s)
    p1 = np.sum(k1 * weights, axis=1)
    if not derivatives:  # the residual alone (line searches): r does not need P''
        r = condition(mechanism, v, x, p, p1, np.zeros_like(p))[0]
        return {"u": utility(mechanism, v, x, p), "r": r, "p": p}
    k2 = beta * (1.0 - 2.0 * s) * k1
    p2 = np.sum(k2 * weights, axis=1)
    r, dr_dx = condition(mechanism, v, x, p, p1, p2)
    # ∂P/∂m_j = −K1_j w_j, ∂P'/∂m_j = −K2_j w_j
    scale = (v if mechanism == "all_pay" else v - x)[:, None]
    du_dm = -scale * k1 * weights
    dr_dm = -scale * k2 * weights + (0.0 if mechanism == "all_pay" else k1 * weights)
    return {"u": utility(mechanism, v, x, p), "r": r, "p": p, "p1": p1, "dr_dx": dr_dx,
            "du_dm": du_dm, "dr_dm": dr_dm, "atoms": np.broadcast_to(order[cols], s.shape),
            "valid": np.broadcast_to(valid, s.shape)}


def _weight_terms(mechanism: str, v, x, m_q: np.ndarray, beta: float) -> tuple:
    """(∂u/∂w_q, ∂r/∂w_q) at bids x of values v for the atoms at bids ``m_q``
    ([len(x), len(m_q)]): ∂P/∂w_q = σ_q, ∂P'/∂w_q = K1_q."""
    s = expit(beta * (x[:, None] - m_q[None, :]))
    k1 = beta * s * (1.0 - s)
    scale = (v if mechanism == "all_pay" else v - x)[:, None]
    return scale * s, scale * k1 - (0.0 if mechanism == "all_pay" else s)


class System:
    """The discrete complementarity system of one game at one β: per class the bids b_j at the
    midpoints v_j of the cells of ``edges``; the competing bid is b_o(v_j) with the cell's
    probability (the σ layer is wider than a cell's bid range, so this sum converges fast).

    A cell listed in ``splits`` holds the jump of b̃ (its marginal value is indifferent between
    two bids): a share 1 − θ of its probability bids b_j, the share θ bids a second bid h, the
    lower bid on the lower part of the cell [e_j, ν], the higher on [ν, e_{j+1}] (ν at the
    share's position); each bid's first-order condition holds at its part's midpoint, and the
    unknowns h and θ come with r(v_h, h) = 0 and the indifference ũ(ν, h) = ũ(ν, b_j), so ν
    is the jump value to second order in the cell width (:meth:`split_points`). The unknown
    vector is [b of every class, h of every split, θ of every split]."""

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

    def own(self, c: int) -> tuple:
        """(indices t in ``splits``, cells) of class c's split cells, as integer arrays."""
        pairs = [(t, cell) for t, (cls, cell) in enumerate(self.splits) if cls == c]
        return np.array([t for t, _ in pairs], int), np.array([cell for _, cell in pairs], int)

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

    def split_points(self, y: np.ndarray, c: int) -> tuple:
        """For class c's splits: the values at which the cell's bid b_j and the second bid h
        are optimal and the jump value ν, each with its derivative in θ. The lower of the two
        bids takes the lower part of the cell [e_j, ν] (a share of its probability), the
        higher one [ν, e_{j+1}]; each is optimal at its part's midpoint, and ν is indifferent
        between them. ([v_b, v_h, ν], [∂v_b/∂θ, ∂v_h/∂θ, ∂ν/∂θ]), arrays of shape [3, splits]."""
        count = len(self.splits)
        own, cells = self.own(c)
        left, right = self.edges[c][cells], self.edges[c][cells + 1]
        width = right - left
        b, h, theta = self.split(y)[c][cells], y[self.n + own], y[self.n + count + own]
        b_low = b <= h
        nu = left + np.where(b_low, 1.0 - theta, theta) * width
        d_nu = np.where(b_low, -width, width)
        lower, upper = 0.5 * (left + nu), 0.5 * (nu + right)
        points = np.array([np.where(b_low, lower, upper), np.where(b_low, upper, lower), nu])
        return points, np.array([0.5 * d_nu, 0.5 * d_nu, d_nu])

    def evaluate(self, y: np.ndarray, jacobian: bool = True):
        """(F, r at the cells, Jacobian of F when asked, a sparse matrix): F = min(b, −r) at the
        cells (a split cell's b_j and h each at its part's midpoint, :meth:`split_points`), then
        r(v_h, h) and ũ(ν, h) − ũ(ν, b_j) for every split."""
        mech, count, size = self.game.mechanism, len(self.splits), len(y)
        parts = self.split(y)
        f = np.empty(size)
        entries = []
        for c in range(self.game.classes):
            m, w, index = self.atoms(y, c)
            own, cells = self.own(c)
            k, n_c = len(own), len(parts[c])
            (v_b, v_h, nu), d_points = self.split_points(y, c)
            h = y[self.n + own]
            v = np.concatenate([self.values[c], v_h, nu, nu])
            v[cells] = v_b
            x = np.concatenate([parts[c], h, parts[c][cells], h])
            terms = _atom_terms(mech, v, x, m, w, self.beta, derivatives=jacobian)
            rows = np.arange(self.offsets[c], self.offsets[c + 1])
            split_rows, theta_rows = self.n + own, self.n + count + own
            at_nu_b, at_nu_h = slice(n_c + k, n_c + 2 * k), slice(n_c + 2 * k, n_c + 3 * k)
            f[rows] = terms["r"][:n_c]
            f[split_rows] = terms["r"][n_c:n_c + k]
            f[theta_rows] = terms["u"][at_nu_h] - terms["u"][at_nu_b]
            if jacobian:
                entries += self._jacobian_entries(c, terms, (rows, split_rows, theta_rows, cells),
                                                  (index, d_points, at_nu_b, at_nu_h),
                                                  (v, x, m))
        b = y[:self.n]
        phi = f.copy()
        phi[:self.n] = np.minimum(b, -f[:self.n])
        if not jacobian:
            return phi, f[:self.n], None
        # F = min(b, −r): −∂r on the cells' rows, and a unit row where b is the smaller
        i, j, value = (np.concatenate(e) for e in zip(*entries, strict=True))
        active = np.zeros(size, bool)
        active[:self.n] = b <= -f[:self.n]
        value = np.where(i < self.n, -value, value)
        keep = ~active[i]
        diagonal = np.flatnonzero(active)
        jac = sparse.csr_matrix((np.concatenate([value[keep], np.ones(len(diagonal))]),
                                 (np.concatenate([i[keep], diagonal]),
                                  np.concatenate([j[keep], diagonal]))), shape=(size, size))
        return phi, f[:self.n], jac

    def _jacobian_entries(self, c: int, terms: dict, rows: tuple, layout: tuple,
                          points: tuple) -> list:
        """Class c's entries (rows, columns, values) of the Jacobian of :meth:`evaluate` (before
        the complementarity signs; repeated entries add up): r in the atoms and the own bid;
        the indifference in the atoms, in h and b_j (∂ũ/∂x = r at ν) and in θ through ν
        (∂ũ/∂v = P); r at a split's part in θ through the part's midpoint (∂r/∂v = P'); θ of
        the opponent's splits through the atoms' weights."""
        rows, split_rows, theta_rows, cells = rows
        index, d_points, at_nu_b, at_nu_h = layout
        v, x, m = points
        count, n_c = len(self.splits), len(rows)
        k = len(split_rows)
        r_rows = np.concatenate([rows, split_rows])
        atoms, valid = index[terms["atoms"]], terms["valid"]

        def block(row_ids, values, part):
            local = valid[part]
            return (np.broadcast_to(row_ids[:, None], local.shape)[local], atoms[part][local],
                    values[local])

        everything = slice(0, n_c + k)
        out = [block(r_rows, terms["dr_dm"][everything], everything),
               # the indifference: u at ν with h minus u at ν with b_j, each in its own window
               block(theta_rows, terms["du_dm"][at_nu_h], at_nu_h),
               block(theta_rows, -terms["du_dm"][at_nu_b], at_nu_b)]
        out += [(r_rows, r_rows, terms["dr_dx"][:n_c + k]),
                (theta_rows, split_rows, terms["r"][at_nu_h]),
                (theta_rows, rows[cells], -terms["r"][at_nu_b]),
                (rows[cells], theta_rows, terms["p1"][cells] * d_points[0]),
                (split_rows, theta_rows, terms["p1"][n_c:n_c + k] * d_points[1]),
                (theta_rows, theta_rows,
                 (terms["p"][at_nu_h] - terms["p"][at_nu_b]) * d_points[2])]
        # θ of the opponent's splits moves probability from the cell's atom to its h atom
        # (the h atoms follow the opponent's cells in the order of its splits, :meth:`atoms`)
        o = self.game.opponent(c)
        t_ids, from_cell = self.own(o)
        if len(t_ids):
            to_atom = int(self.offsets[o + 1] - self.offsets[o]) + np.arange(len(t_ids))
            du_dw, dr_dw = _weight_terms(self.game.mechanism, v, x,
                                         np.concatenate([m[to_atom], m[from_cell]]), self.beta)
            dw = np.vstack([dr_dw[:n_c + k], du_dw[at_nu_h] - du_dw[at_nu_b]])
            dw_rows = np.concatenate([r_rows, theta_rows])
            values = self.masses[c][from_cell] * (dw[:, :len(t_ids)] - dw[:, len(t_ids):])
            out.append((np.repeat(dw_rows, len(t_ids)),
                        np.tile(self.n + count + t_ids, len(dw_rows)), values.ravel()))
        return out

    def order(self, y: np.ndarray) -> np.ndarray:
        """The unknowns by bid (cells and second bids of both classes), then the shares θ: the
        order in which the Jacobian is a band (:func:`_solve_linear`)."""
        bids = self.n + len(self.splits)
        return np.concatenate([np.argsort(y[:bids], kind="stable"), np.arange(bids, len(y))])

    def project(self, y: np.ndarray) -> np.ndarray:
        y = y.copy()
        y[:self.n + len(self.splits)] = np.maximum(y[:self.n + len(self.splits)], 0.0)
        y[self.n + len(self.splits):] = np.clip(y[self.n + len(self.splits):], 0.0, 1.0)
        return y

    def newton(self, y: np.ndarray, tol: float, max_iterations: int,
               fallback: bool = True) -> tuple:
        """Semismooth Newton with backtracking on ½‖F‖² from ``y``; where it fails (its line
        search stalls, or it runs out of iterations), pseudo-transient continuation from ``y``
        (:meth:`continuation`) and Newton again from where that ends, unless ``fallback`` is
        False: (y, max|F|, iterations) of the smallest residual reached."""
        best = self._damped_newton(y, tol, max_iterations)
        if best[1] <= tol or not fallback:
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
            step = _solve_linear(jac, -phi, self.order(y))
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
            y = self.project(y + _solve_linear(jac + sparse.diags(sign / dt), -phi,
                                               self.order(y)))
            phi, _, jac = self.evaluate(y)
            new = float(np.linalg.norm(phi))
            dt = min(dt * min(max(norm / max(new, 1e-300), 0.5), 2.0), 1e12)
            norm = new
            if norm < best_norm:
                best_norm, best, best_it = norm, (y, float(np.abs(phi).max())), it
            if norm > 10.0 * first or it - best_it >= CONTINUATION_STALL:
                break
        return best[0], best[1], it

    def with_split(self, cell: tuple, y: np.ndarray, bid: float, theta: float = 0.5) -> tuple:
        """(system, unknowns) with class ``cell[0]``'s cell ``cell[1]`` split: its second bid
        ``bid`` on the share ``theta``."""
        count = len(self.splits)
        other = System.__new__(System)
        other.__dict__.update(self.__dict__)
        other.splits = self.splits + (cell,)
        h, shares = y[self.n:self.n + count], y[self.n + count:]
        return other, np.concatenate([y[:self.n], h, [bid], shares, [theta]])

    def settle_splits(self, y: np.ndarray) -> tuple:
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
        becomes a step at its jump value ν, each side continued from its part's midpoint to ν
        with its own slope db/dv = −(∂r/∂v)/(∂r/∂x) = −P'/(∂r/∂x) (0 where it bids 0)."""
        out = []
        for c, part in enumerate(self.split(y)):
            v, b = list(self.values[c]), list(part)
            own, cells = self.own(c)
            if not len(own):
                out.append((np.array(v), np.array(b)))
                continue
            (v_b, v_h, nu), _ = self.split_points(y, c)
            bids_b, bids_h = part[cells], y[self.n + own]
            m, w, _ = self.atoms(y, c)
            points, bids = np.concatenate([v_b, v_h]), np.concatenate([bids_b, bids_h])
            p, p1, p2 = kernels(bids, m, w, self.beta)
            dr_dx = condition(self.game.mechanism, points, bids, p, p1, p2)[1]
            slope = np.where(bids > 0.0, -p1 / np.where(dr_dx < 0, dr_dx, -np.inf), 0.0)
            k = len(cells)
            for i in sorted(range(k), key=lambda i: -cells[i]):
                cell = cells[i]
                ends = sorted([(v_b[i], bids_b[i], slope[i]), (v_h[i], bids_h[i], slope[k + i])])
                (lo_v, lo_b, lo_s), (hi_v, hi_b, hi_s) = ends
                v[cell:cell + 1] = [lo_v, nu[i], np.nextafter(nu[i], np.inf), hi_v]
                b[cell:cell + 1] = [lo_b, lo_b + lo_s * (nu[i] - lo_v),
                                    hi_b - hi_s * (hi_v - nu[i]), hi_b]
            out.append((np.array(v), np.array(b)))
        return out
