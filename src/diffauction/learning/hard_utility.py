"""Hard (unsmoothed) utilities against fixed opponents: what the zeroth-order estimators
(NPGA, REINFORCE) and Hedge evaluate.

The hard auction breaks ties uniformly at random. For the single-item auctions the utility is
taken in expectation over that fair coin (:func:`expected_hard_utility`: a bidder tied at the top
with k others wins with probability 1/(k+1)), which needs no tie-break draws; the k-unit and LLG
auctions draw their coins from the run's own generator (:func:`deviation_utility`).
"""

from __future__ import annotations

import torch

from diffauction.game.mechanisms import Mechanism, highest_competing_bid


def competing_bids(bids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(m, k): each agent's highest competing bid m_i and the number k_i ≥ 1 of opponents at m_i.

    ``bids`` is [..., agents]; both outputs have its shape (k as the bids' dtype).
    """
    n = bids.shape[-1]
    m = highest_competing_bid(bids)
    at_m = bids[..., None, :] == m[..., :, None]  # [..., i, j]: opponent j bids m_i
    others = ~torch.eye(n, dtype=torch.bool, device=bids.device)
    k = (at_m & others).sum(dim=-1).to(bids.dtype)
    return m, k


def utility_against(mechanism: Mechanism, values: torch.Tensor, bids: torch.Tensor,
                    competing: torch.Tensor, ties: torch.Tensor) -> torch.Tensor:
    """Hard utility of bidding ``bids`` against a fixed highest competing bid, ties in expectation.

    Allocation x = 1 if b > m, 1/(k+1) if b = m (k opponents tied at m), else 0; payment from the
    mechanism's own rule ``payments(b, x, m)`` (linear in x, so this is the expectation over the
    tie-break). All arguments broadcast against each other, e.g. a bid grid ``[G]`` against
    values/competing bids ``[runs, batch, agents, 1]``.
    """
    x = torch.where(bids > competing, 1.0, torch.where(bids == competing, 1.0 / (ties + 1.0), 0.0))
    x = x.to(torch.result_type(values, bids))
    return values * x - mechanism.payments(bids, x, competing)


def expected_hard_utility(mechanism: Mechanism, values: torch.Tensor,
                          bids: torch.Tensor) -> torch.Tensor:
    """E_coin[``mechanism.hard_utility(values, bids)``] for a full bid profile [..., agents]."""
    m, k = competing_bids(bids)
    return utility_against(mechanism, values, bids, m, k)


def single_item(mechanism: Mechanism) -> bool:
    """Whether the hard rule is the base single-item one (highest bid wins, ``payments(b, x, m)``
    against the highest competing bid m), so :func:`utility_against` applies."""
    kind = type(mechanism)
    return kind.hard_outcome is Mechanism.hard_outcome and \
        kind.hard_utility is Mechanism.hard_utility


def deviation_utility(mechanism: Mechanism, values: torch.Tensor, own: torch.Tensor,
                      base: torch.Tensor, generators: list[torch.Generator]) -> torch.Tensor:
    """u_i(own_i, base_{-i}) for every agent i: agent i bids ``own_i`` while every opponent j
    bids ``base_j`` (non-cooperative: no agent's deviation enters another's utility).

    ``values``, ``own`` and ``base`` broadcast to [runs, ..., batch, agents]. Single-item
    auctions take ties in expectation (:func:`utility_against`); other rules (k units, LLG)
    evaluate ``mechanism.hard_utility`` on each agent's deviation profile, run r's tie-break coins
    drawn from ``generators[r]``.
    """
    if single_item(mechanism):
        m, k = competing_bids(base)
        return utility_against(mechanism, values, own, m, k)
    shape = torch.broadcast_shapes(values.shape, own.shape, base.shape)
    values, own, base = (x.expand(shape) for x in (values, own, base))
    out = torch.empty(shape, dtype=own.dtype, device=own.device)
    for i in range(shape[-1]):
        profile = base.clone()
        profile[..., i] = own[..., i]
        for r, generator in enumerate(generators):
            out[r, ..., i] = mechanism.hard_utility(values[r], profile[r], generator)[..., i]
    return out
