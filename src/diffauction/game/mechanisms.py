"""Single-item sealed-bid auctions, hard and smoothed, batched over ``[..., agents]``.

Shape convention: ``values`` and ``bids`` are ``[runs, batch, agents]`` (any leading shape works);
the agent axis is always last. ``beta`` is a float or a tensor broadcastable to the bids
(``[runs, 1, 1]`` when runs use different temperatures).

Each mechanism offers

* ``hard_outcome``: the true auction, allocation (0/1, random tie-break) and payments;
* ``smoothed_utility``: the differentiable relaxation used for learning. Agent i's utility sees the
  highest competing bid m_i as a constant (it is detached), so back-propagating the sum of all
  agents' smoothed utilities gives every agent only its own ∂ũ_i/∂b_i: the non-cooperative
  gradient, never the cartel's;
* ``smoothed_bid_gradient``: the same derivative in closed form (the fast path for linear policies;
  a test checks it against autograd);
* ``interim_utility``: the hard ex-interim utility of a bid against sorted draws of the highest
  competing bid, used by the grid best response.
"""

from __future__ import annotations

import torch


def highest_competing_bid(bids: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """m_i = max_{j≠i} b_j for every agent (agent axis last), exactly, ties included.

    Computed from prefix and suffix maxima over the agent slices, m_i = max(max_{j<i} b_j,
    max_{j>i} b_j): 2(N−1) elementwise maxima, no sort and no reduction over the short agent
    axis. The trainer stores values agent-major in memory (a [runs, agents, batch] buffer viewed
    as [runs, batch, agents]), so every slice ``bids[..., i]`` is contiguous and each maximum runs
    at full vector speed. ``out`` (same shape, not aliasing ``bids``) avoids an allocation.
    """
    n = bids.shape[-1]
    if n < 2:
        raise ValueError(f"an auction needs at least 2 bidders, got bids with {n} on the last axis")
    if out is None:
        out = torch.empty_like(bids)
    if n == 2:
        out[..., 0].copy_(bids[..., 1])
        out[..., 1].copy_(bids[..., 0])
        return out
    running = bids[..., 0]
    for i in range(1, n):  # out[..., i] = max_{j<i} b_j
        out[..., i] = running
        if i < n - 1:
            running = torch.maximum(running, bids[..., i])
    running = bids[..., n - 1]
    for i in range(n - 2, -1, -1):  # fold in max_{j>i} b_j
        if i == 0:
            out[..., 0] = running
        else:
            torch.maximum(out[..., i], running, out=out[..., i])
        running = torch.maximum(running, bids[..., i])
    return out


def bid_margin(bids: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """b_i − max_{j≠i} b_j for every agent (agent axis last), written to ``out`` (same shape, not
    aliasing ``bids``). With two agents the margins are d and −d: one subtraction over half the
    elements instead of the competing bids and a full one."""
    if bids.shape[-1] == 2:
        torch.sub(bids[..., 0], bids[..., 1], out=out[..., 0])
        torch.neg(out[..., 0], out=out[..., 1])
        return out
    return torch.sub(bids, highest_competing_bid(bids, out=out), out=out)


def hard_allocation(bids: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One-hot allocation to the highest bid, ties broken uniformly at random.

    Among the agents whose bid equals the maximum, the one with the largest independent U[0,1)
    priority wins, which picks each tied agent with equal probability.
    """
    is_top = bids == bids.amax(dim=-1, keepdim=True)
    priority = torch.rand(bids.shape, generator=generator, dtype=bids.dtype, device=bids.device)
    score = torch.where(is_top, priority, torch.full_like(priority, -1.0))
    winner = score.argmax(dim=-1, keepdim=True)
    return torch.zeros_like(bids).scatter_(-1, winner, 1.0)


def smoothed_win_probability(bids: torch.Tensor, beta) -> torch.Tensor:
    """σ(β(b_i − m_i)) with the competing bid m_i detached (opponents are constants)."""
    competing = highest_competing_bid(bids.detach())
    return torch.sigmoid(beta * (bids - competing))


def broadcast_per_run(x, like: torch.Tensor) -> torch.Tensor:
    """A per-run quantity (a float, or a tensor with one entry per run such as [runs] or
    [runs, 1, 1]) shaped to broadcast against ``like`` [runs, ...]."""
    x = torch.as_tensor(x, dtype=like.dtype, device=like.device)
    return x.reshape(-1, *([1] * (like.dim() - 1)))


def _linear_win_moments(values: torch.Tensor, weights: torch.Tensor, beta, bids: torch.Tensor,
                        scratch: torch.Tensor):
    """(E[vp], E[v²p(1 − p)], β per run [runs, 1]) over the batch axis, p = σ(β(b_i − m_i)) at the
    linear bids b = w·v, in the work buffers ``bids`` and ``scratch``. β is folded into the bids
    (σ(βb − βm), and max_j βb_j = β·max_j b_j for β > 0); v²p(1 − p) = vp·(v − vp)."""
    beta = broadcast_per_run(beta, weights)
    scaled = torch.mul((weights * beta)[:, None, :], values, out=bids)  # βb
    p = bid_margin(scaled, out=scratch).sigmoid_()
    vp = torch.mul(values, p, out=bids)
    mean_vp = vp.mean(dim=1)
    mean_v2s = torch.sub(values, vp, out=p).mul_(vp).mean(dim=1)
    return mean_vp, mean_v2s, beta


class Mechanism:
    """A single-item auction: its hard rule and its sigmoid relaxation."""

    name: str = "mechanism"
    #: whether truthful bidding is the equilibrium (second price) — informs metrics and plots
    truthful: bool = False

    def payments(self, bids: torch.Tensor, allocation: torch.Tensor,
                 competing: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def hard_outcome(self, bids: torch.Tensor, generator: torch.Generator | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """(allocation, payments), both shaped like ``bids``."""
        allocation = hard_allocation(bids, generator)
        return allocation, self.payments(bids, allocation, highest_competing_bid(bids))

    def hard_utility(self, values: torch.Tensor, bids: torch.Tensor,
                     generator: torch.Generator | None = None) -> torch.Tensor:
        """Quasi-linear utility v_i·x_i − p_i in the true auction."""
        allocation, payment = self.hard_outcome(bids, generator)
        return values * allocation - payment

    def smoothed_utility(self, values: torch.Tensor, bids: torch.Tensor, beta) -> torch.Tensor:
        raise NotImplementedError

    def smoothed_bid_gradient(self, values: torch.Tensor, bids: torch.Tensor,
                              beta) -> torch.Tensor:
        raise NotImplementedError

    def linear_bid_gradient_(self, values: torch.Tensor, weights: torch.Tensor, beta,
                             bids: torch.Tensor, scratch: torch.Tensor) -> torch.Tensor:
        """E[v_i · ∂ũ_i/∂b_i] over the batch axis at the linear bids b = w·v: the exact gradient
        of the smoothed utility in w_i (shape [runs, agents]; ``weights`` [runs, agents], ``beta``
        a float or a per-run tensor [runs, 1, 1]). ``bids`` and ``scratch`` are work buffers
        shaped like ``values`` and are overwritten.

        The training loop's fast path. This default is the readable chain rule through
        ``smoothed_bid_gradient``; the single-item auctions override it with fused code that
        folds β into the bids (σ(β(b − m)) = σ(βb − βm), and max_j βb_j = β·max_j b_j) and the
        linear policy into the reductions (v − b = (1 − w)·v), and a test checks that both agree.
        """
        torch.mul(weights[:, None, :], values, out=bids)
        return (values * self.smoothed_bid_gradient(values, bids, beta)).mean(dim=1)

    def interim_utility(self, values: torch.Tensor, bids: torch.Tensor, competing) -> torch.Tensor:
        """Hard ex-interim utility E_m[u(v, b; m)] against a competing-bid distribution.

        ``values`` and ``bids`` broadcast against each other (pairs v, b(v), or a value column
        against a bid row for a best-response grid). ``competing`` describes the highest competing
        bid m by ``cdf(b) = P(m < b)`` and ``partial_mean(b) = E[m·1{m < b}]``
        (:mod:`diffauction.analysis.metrics`); m is continuous, so ties have probability zero.
        """
        raise NotImplementedError


class FirstPrice(Mechanism):
    """First-price sealed bid: the winner pays its own bid.

    Smoothed (the seed's form): ũ_i = (v_i − b_i)·σ(β(b_i − m_i)); only the win probability is
    smoothed, the payment b_i is exact.
    """

    name = "first_price"

    def payments(self, bids, allocation, competing):
        return allocation * bids

    def smoothed_utility(self, values, bids, beta):
        return (values - bids) * smoothed_win_probability(bids, beta)

    def smoothed_bid_gradient(self, values, bids, beta):
        """∂ũ_i/∂b_i = −σ + (v_i − b_i)·β·σ(1 − σ)."""
        p = smoothed_win_probability(bids, beta)
        return (values - bids) * beta * p * (1.0 - p) - p

    def linear_bid_gradient_(self, values, weights, beta, bids, scratch):
        if type(self).smoothed_bid_gradient is not FirstPrice.smoothed_bid_gradient:
            # a subclass changed the derivative: the fused code below no longer applies
            return Mechanism.linear_bid_gradient_(self, values, weights, beta, bids, scratch)
        # E[v(∂ũ/∂b)] = E[v((v − b)βp(1 − p) − p)] = β(1 − w)·E[v²p(1 − p)] − E[vp]
        mean_vp, mean_v2s, beta = _linear_win_moments(values, weights, beta, bids, scratch)
        return mean_v2s.mul_((1.0 - weights) * beta).sub_(mean_vp)

    def interim_utility(self, values, bids, competing):
        return (values - bids) * competing.cdf(bids)


class SecondPrice(Mechanism):
    """Second-price sealed bid (= VCG for one item): the winner pays the highest competing bid.

    Smoothed: ũ_i = (v_i − m_i)·σ(β(b_i − m_i)); only the win probability is smoothed.
    """

    name = "second_price"
    truthful = True

    def payments(self, bids, allocation, competing):
        return allocation * competing

    def smoothed_utility(self, values, bids, beta):
        competing = highest_competing_bid(bids.detach())
        return (values - competing) * torch.sigmoid(beta * (bids - competing))

    def smoothed_bid_gradient(self, values, bids, beta):
        """∂ũ_i/∂b_i = (v_i − m_i)·β·σ(1 − σ)."""
        competing = highest_competing_bid(bids)
        p = torch.sigmoid(beta * (bids - competing))
        return (values - competing) * beta * p * (1.0 - p)

    def linear_bid_gradient_(self, values, weights, beta, bids, scratch):
        if type(self).smoothed_bid_gradient is not SecondPrice.smoothed_bid_gradient:
            # a subclass changed the derivative: the fused code below no longer applies
            return Mechanism.linear_bid_gradient_(self, values, weights, beta, bids, scratch)
        # E[v(∂ũ/∂b)] = E[v(v − m)βp(1 − p)] = −E[v·(βm − βv)·p(1 − p)]
        beta_w = weights * broadcast_per_run(beta, weights)
        scaled = torch.mul(beta_w[:, None, :], values, out=bids)  # βb
        m = highest_competing_bid(scaled, out=scratch)  # βm
        p = torch.sub(scaled, m, out=bids).sigmoid_()  # σ(β(b − m))
        torch.addcmul(p, p, p, value=-1.0, out=p)  # p(1 − p)
        torch.addcmul(m, values, broadcast_per_run(beta, values), value=-1.0, out=m)  # βm − βv
        return torch.mul(m, p, out=p).mul_(values).mean(dim=1).neg_()

    def interim_utility(self, values, bids, competing):
        return values * competing.cdf(bids) - competing.partial_mean(bids)


class AllPay(Mechanism):
    """All-pay: every bidder pays its bid, the highest bid wins.

    Smoothed: ũ_i = v_i·σ(β(b_i − m_i)) − b_i; only the win probability is smoothed.
    """

    name = "all_pay"

    def payments(self, bids, allocation, competing):
        return bids.clone()

    def smoothed_utility(self, values, bids, beta):
        return values * smoothed_win_probability(bids, beta) - bids

    def smoothed_bid_gradient(self, values, bids, beta):
        """∂ũ_i/∂b_i = v_i·β·σ(1 − σ) − 1."""
        p = smoothed_win_probability(bids, beta)
        return values * beta * p * (1.0 - p) - 1.0

    def linear_bid_gradient_(self, values, weights, beta, bids, scratch):
        if type(self).smoothed_bid_gradient is not AllPay.smoothed_bid_gradient:
            # a subclass changed the derivative: the fused code below no longer applies
            return Mechanism.linear_bid_gradient_(self, values, weights, beta, bids, scratch)
        # E[v(∂ũ/∂b)] = E[v(vβp(1 − p) − 1)] = β·E[v²p(1 − p)] − E[v]
        _, mean_v2s, beta = _linear_win_moments(values, weights, beta, bids, scratch)
        return mean_v2s.mul_(beta).sub_(values.mean(dim=1))

    def interim_utility(self, values, bids, competing):
        return values * competing.cdf(bids) - bids


# --- k identical units, unit demand ------------------------------------------------------------


def kth_highest_competing_bid(bids: torch.Tensor, k: int) -> torch.Tensor:
    """m_i^(k) = the k-th highest of the *other* agents' bids (agent axis last), ties included.

    With s_0 ≥ s_1 ≥ … the sorted bids, removing agent i's own bid shifts the order below it only
    if b_i sits among the top k: m_i^(k) = s_k if b_i ≥ s_{k−1}, else s_{k−1} (0-based). For a
    winner of a k-unit auction, s_k is the (k+1)-th highest bid. k = 1 is
    :func:`highest_competing_bid`.
    """
    n = bids.shape[-1]
    if not 1 <= k < n:
        raise ValueError(f"units: k must satisfy 1 <= k < N, got k={k} with N={n} bidders")
    if k == 1:
        return highest_competing_bid(bids)
    if k == n - 1:  # the lowest competing bid: the same prefix/suffix pass on −b
        return highest_competing_bid(bids.neg()).neg_()
    top = bids.topk(k + 1, dim=-1).values  # sorted descending
    return torch.where(bids >= top[..., k - 1:k], top[..., k:k + 1], top[..., k - 1:k])


def unit_demand_allocation(bids: torch.Tensor, k: int,
                           generator: torch.Generator | None = None) -> torch.Tensor:
    """0/1 allocation of k identical units to the k highest bids, ties broken uniformly at random.

    Every agent draws an independent U[0,1) priority; j outranks i if b_j > b_i, or b_j = b_i and
    j's priority is larger; i wins iff fewer than k agents outrank it. Tied agents are therefore
    ordered uniformly at random, and for k = 1 the draw is the one :func:`hard_allocation` makes.
    """
    n = bids.shape[-1]
    if not 1 <= k < n:
        raise ValueError(f"units: k must satisfy 1 <= k < N, got k={k} with N={n} bidders")
    if k == 1:
        return hard_allocation(bids, generator)
    priority = torch.rand(bids.shape, generator=generator, dtype=bids.dtype, device=bids.device)
    mine, theirs = bids[..., :, None], bids[..., None, :]
    outranked = (theirs > mine) | ((theirs == mine)
                                   & (priority[..., None, :] > priority[..., :, None]))
    return (outranked.sum(dim=-1) < k).to(bids.dtype)


def _check_units(k) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"units: k must be an integer >= 1, got {k!r}")
    return k


class MultiUnitMechanism(Mechanism):
    """k identical units, unit-demand bidders: the k highest bids win one unit each.

    Agent i wins iff b_i beats m_i^(k), the k-th highest competing bid
    (:func:`kth_highest_competing_bid`), so every formula of the single-item auctions carries over
    with m_i replaced by m_i^(k); ``interim_utility``'s ``competing`` describes m_i^(k). The number
    of bidders is only known from the bids: k ≥ N raises ValueError naming ``units``.
    """

    def __init__(self, k: int):
        self.k = _check_units(k)

    def competing(self, bids: torch.Tensor) -> torch.Tensor:
        return kth_highest_competing_bid(bids, self.k)

    def smoothed_win_probability(self, bids: torch.Tensor, beta) -> torch.Tensor:
        """σ(β(b_i − m_i^(k))) with m_i^(k) detached (opponents are constants)."""
        return torch.sigmoid(beta * (bids - self.competing(bids.detach())))

    def hard_outcome(self, bids, generator=None):
        allocation = unit_demand_allocation(bids, self.k, generator)
        return allocation, self.payments(bids, allocation, self.competing(bids))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(k={self.k})"


class PayAsBid(MultiUnitMechanism):
    """Discriminatory (pay-as-bid) k-unit auction: every winner pays its own bid.

    Smoothed: ũ_i = (v_i − b_i)·σ(β(b_i − m_i^(k))); only the win probability is smoothed, the
    payment b_i is exact. k = 1 is first price.
    """

    name = "pay_as_bid"

    def payments(self, bids, allocation, competing):
        return allocation * bids

    def smoothed_utility(self, values, bids, beta):
        return (values - bids) * self.smoothed_win_probability(bids, beta)

    def smoothed_bid_gradient(self, values, bids, beta):
        """∂ũ_i/∂b_i = −σ + (v_i − b_i)·β·σ(1 − σ)."""
        p = self.smoothed_win_probability(bids, beta)
        return (values - bids) * beta * p * (1.0 - p) - p

    def interim_utility(self, values, bids, competing):
        return (values - bids) * competing.cdf(bids)


class UniformPrice(MultiUnitMechanism):
    """Uniform-price k-unit auction: every winner pays the (k+1)-th highest bid, which is its
    k-th highest competing bid m_i^(k); with unit demand this is VCG, so truthful bidding is
    dominant.

    Smoothed: ũ_i = (v_i − m_i^(k))·σ(β(b_i − m_i^(k))); only the win probability is smoothed,
    the price m_i^(k) is exact (and a constant for agent i). k = 1 is second price.
    """

    name = "uniform_price"
    truthful = True

    def payments(self, bids, allocation, competing):
        return allocation * competing

    def smoothed_utility(self, values, bids, beta):
        competing = self.competing(bids.detach())
        return (values - competing) * torch.sigmoid(beta * (bids - competing))

    def smoothed_bid_gradient(self, values, bids, beta):
        """∂ũ_i/∂b_i = (v_i − m_i^(k))·β·σ(1 − σ)."""
        competing = self.competing(bids)
        p = torch.sigmoid(beta * (bids - competing))
        return (values - competing) * beta * p * (1.0 - p)

    def interim_utility(self, values, bids, competing):
        return values * competing.cdf(bids) - competing.partial_mean(bids)


# --- the LLG combinatorial auction ---------------------------------------------------------------


class LLG(Mechanism):
    """Local-local-global: items A and B; agent 0 bids on A, agent 1 on B (the locals), agent 2 on
    the bundle AB (the global bidder). Bids are ``[..., 3]`` in that order.

    Allocation (welfare-maximising for the bids): the locals win their items iff
    b_0 + b_1 > b_2, the global wins AB iff b_2 > b_0 + b_1, an exact tie is a fair coin. A
    winning global pays b_0 + b_1 (its VCG price, the same under every core-selecting rule);
    winning locals pay :meth:`local_prices`.

    Smoothed: the locals' joint win probability becomes σ(β(b_0 + b_1 − b_2)) with the other two
    bids detached for each agent (the global's is 1 − σ); the payments are exact. For VCG a
    local's price does not depend on its own bid; for nearest-VCG it does (slope ½ while
    b_i < b_2), and the smoothed utility carries that slope.

    Subclasses define the locals' prices and their own-bid slopes on the three bid components
    (each shaped like one agent's slice), so the hard rule, the smoothed utility, its closed-form
    gradient and the LLG learner's fast path (:meth:`local_bid_gradients`) share one formula.
    """

    n_bidders = 3

    def _check(self, bids: torch.Tensor) -> None:
        if bids.shape[-1] != self.n_bidders:
            raise ValueError(f"n_agents: the LLG auction has exactly 3 bidders (2 locals, 1 "
                             f"global), got bids with {bids.shape[-1]} on the last axis")

    def local_prices(self, b0: torch.Tensor, b1: torch.Tensor, b2: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """What each local pays if the locals win, from the three bids."""
        raise NotImplementedError

    def local_price_slopes(self, b0: torch.Tensor, b1: torch.Tensor, b2: torch.Tensor
                           ) -> tuple[torch.Tensor, torch.Tensor] | None:
        """∂p_i/∂b_i for the two locals, or None where prices ignore the own bid."""
        raise NotImplementedError

    def hard_outcome(self, bids, generator=None):
        self._check(bids)
        b0, b1, b2 = bids.unbind(-1)
        package = b0 + b1
        coin = torch.rand(package.shape, generator=generator, dtype=bids.dtype,
                          device=bids.device) < 0.5
        x = ((package > b2) | ((package == b2) & coin)).to(bids.dtype)
        p0, p1 = self.local_prices(b0, b1, b2)
        allocation = torch.stack([x, x, 1.0 - x], dim=-1)
        payments = torch.stack([x * p0, x * p1, (1.0 - x) * package], dim=-1)
        return allocation, payments

    def smoothed_utility(self, values, bids, beta):
        """ũ_i = (v_i − p_i)·σ_i, each agent's price and margin computed from its own bid and
        the other two detached (read by autograd; :meth:`smoothed_bid_gradient` is the closed
        form)."""
        self._check(bids)
        own0, own1, own2 = bids.unbind(-1)
        o0, o1, o2 = bids.detach().unbind(-1)
        price = torch.stack([self.local_prices(own0, o1, o2)[0],
                             self.local_prices(o0, own1, o2)[1], o0 + o1], dim=-1)
        margin = torch.stack([own0 + o1 - o2, o0 + own1 - o2, own2 - o0 - o1], dim=-1)
        return (values - price) * torch.sigmoid(beta * margin)

    def local_bid_gradients(self, v0, v1, b0, b1, b2, beta) -> tuple[torch.Tensor, torch.Tensor]:
        """∂ũ_i/∂b_i of the two locals, from the components (the learner's fast path).

        At the profile itself both locals' margins are b_0 + b_1 − b_2, so they share
        σ = σ(β(b_0 + b_1 − b_2)): ∂ũ_i/∂b_i = (v_i − p_i)·β·σ(1 − σ) − σ·∂p_i/∂b_i."""
        p = torch.sigmoid(beta * (b0 + b1 - b2))
        weight = beta * p * (1.0 - p)
        p0, p1 = self.local_prices(b0, b1, b2)
        g0, g1 = (v0 - p0) * weight, (v1 - p1) * weight
        slopes = self.local_price_slopes(b0, b1, b2)
        if slopes is not None:
            g0, g1 = g0 - p * slopes[0], g1 - p * slopes[1]
        return g0, g1

    def smoothed_bid_gradient(self, values, bids, beta):
        """∂ũ_i/∂b_i for all three agents; the global's margin is −(b_0 + b_1 − b_2), its
        price b_0 + b_1 does not move with its bid: (v_2 − b_0 − b_1)·β·σ(1 − σ)."""
        self._check(bids)
        b0, b1, b2 = bids.unbind(-1)
        v0, v1, v2 = values.unbind(-1)
        beta = beta[..., 0] if torch.is_tensor(beta) and beta.dim() > 0 else beta
        g0, g1 = self.local_bid_gradients(v0, v1, b0, b1, b2, beta)
        p = torch.sigmoid(beta * (b0 + b1 - b2))
        g2 = (v2 - b0 - b1) * beta * p * (1.0 - p)
        return torch.stack([g0, g1, g2], dim=-1)

    def interim_utility(self, values, bids, competing):
        raise NotImplementedError(
            "the LLG auction has no single competing bid; use diffauction.learning.llg.expected_outcome")


class LLGVCG(LLG):
    """LLG with VCG payments: a winning local pays its externality on the global bidder,
    p_0 = (b_2 − b_1)⁺, p_1 = (b_2 − b_0)⁺. Truthful bidding is dominant for every bidder."""

    name = "llg_vcg"
    truthful = True

    def local_prices(self, b0, b1, b2):
        return (b2 - b1).clamp_min(0.0), (b2 - b0).clamp_min(0.0)

    def local_price_slopes(self, b0, b1, b2):
        return None


class LLGNearestVCG(LLG):
    """LLG with nearest-VCG core payments (Day & Cramton): the minimum-revenue core point
    closest to VCG. If the locals win, VCG revenue p_0ᵛ + p_1ᵛ falls short of the core
    constraint p_0 + p_1 ≥ b_2 by 2δ = b_2 − p_0ᵛ − p_1ᵛ ≥ 0, and each local pays
    p_i = p_iᵛ + δ (never above its bid when b_0 + b_1 ≥ b_2, so no cap binds). The smoothed
    utility evaluates this formula at every profile; ∂p_i/∂b_i = ½·1{b_i < b_2}."""

    name = "llg_nearest_vcg"

    def local_prices(self, b0, b1, b2):
        vcg0, vcg1 = (b2 - b1).clamp_min(0.0), (b2 - b0).clamp_min(0.0)
        delta = 0.5 * (b2 - vcg0 - vcg1)
        return vcg0 + delta, vcg1 + delta

    def local_price_slopes(self, b0, b1, b2):
        return 0.5 * (b0 < b2).to(b0.dtype), 0.5 * (b1 < b2).to(b1.dtype)


#: The single-item formats. Other modules iterate this registry as "the single-item auctions",
#: so it stays exactly these three; :data:`ALL_MECHANISMS` adds the k-unit and LLG formats.
MECHANISMS: dict[str, type[Mechanism]] = {
    cls.name: cls for cls in (FirstPrice, SecondPrice, AllPay)
}

#: Every format :func:`make_mechanism` builds; the k-unit ones need ``k`` (the number of units).
ALL_MECHANISMS: dict[str, type[Mechanism]] = {
    **MECHANISMS,
    **{cls.name: cls for cls in (PayAsBid, UniformPrice, LLGVCG, LLGNearestVCG)},
}
MULTI_UNIT = ("pay_as_bid", "uniform_price")
LLG_MECHANISMS = ("llg_vcg", "llg_nearest_vcg")


def make_mechanism(name, **params) -> Mechanism:
    """Build a mechanism by name; ``params`` go to its constructor (``k`` for the k-unit
    formats). An already-built :class:`Mechanism` is returned as it is, so a k-unit instance can
    stand in for a name wherever one is expected (e.g. ``RunBatch.mechanism``)."""
    if isinstance(name, Mechanism):
        if params:
            raise ValueError(f"mechanism: {name!r} is already built; got extra params {params}")
        return name
    try:
        cls = ALL_MECHANISMS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"mechanism: unknown mechanism {name!r}; allowed: {sorted(ALL_MECHANISMS)}"
        ) from None
    if issubclass(cls, MultiUnitMechanism) and "k" not in params:
        raise ValueError(f"units: mechanism {name!r} needs the number of units k "
                         f"(make_mechanism({name!r}, k=...))")
    try:
        return cls(**params)
    except TypeError as err:
        raise ValueError(f"mechanism: bad parameters {params} for {name!r}: {err}") from None
