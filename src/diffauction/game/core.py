"""The mechanism interface and the competing-bid helpers every auction shares, batched over
``[..., agents]``.

Shape convention: ``values`` and ``bids`` are ``[runs, batch, agents]`` (any leading shape works);
the agent axis is always last. ``beta`` is a float or a tensor broadcastable to the bids
(``[runs, 1, 1]`` when runs use different temperatures).

Each mechanism offers

* ``hard_outcome``: the true auction, allocation (0/1, random tie-break) and payments;
* ``smoothed_utility``: the differentiable relaxation used for learning (the win indicator
  replaced by σ(β(b_i − m_i)); Kohring, Pieroth & Bichler 2023 smooth with a softmax over all
  bidders instead). Agent i's utility sees the
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


class Mechanism:
    """A single-item auction: its hard rule and its sigmoid relaxation."""

    name: str = "mechanism"
    #: whether truthful bidding is the equilibrium (second price) — informs metrics and plots
    truthful: bool = False
    #: the fewest bidders the format is defined for
    min_bidders: int = 2
    #: whether :meth:`interim_utility` is implemented; the utility loss and the grid best
    #: response need it, the L2 distance to the BNE does not
    has_interim_utility: bool = True

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
