"""The LLG (local-local-global) combinatorial auction with VCG and nearest-VCG payments
(Ausubel & Baranov 2020; core-selecting payments: Day & Milgrom 2008)."""

from __future__ import annotations

import torch

from diffauction.game.core import Mechanism


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
    min_bidders = 3
    has_interim_utility = False

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
            "the LLG auction has no single competing bid; evaluate profiles by their expected "
            "outcome over value draws instead")


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
    """LLG with nearest-VCG core payments (Day & Cramton 2012): the minimum-revenue core point
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
