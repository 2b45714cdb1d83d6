"""Expected hard-auction outcomes of bid profiles by quasi-Monte-Carlo: revenue, welfare,
utilities and efficiency of the LLG auction's affine local profiles (the global bidder truthful),
and the scrambled Sobol draws they and the mechanism comparison's outcome tables share."""

from __future__ import annotations

import torch

from diffauction.equilibria.llg import GLOBAL_HIGH, bne_params
from diffauction.game.mechanisms import Mechanism, make_mechanism


def affine_bids(params: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """max(0, a + w·v). ``params`` [..., 2 locals, 2] holds (a, w) per local; ``values`` is
    [..., batch, 2] with the leading axes of ``params``."""
    a, w = params[..., 0], params[..., 1]
    return (a[..., None, :] + w[..., None, :] * values).clamp_min(0.0)


def sobol_unit(points: int, dims: int, seed: int) -> torch.Tensor:
    """[points, dims] scrambled Sobol points in [0, 1)^dims, float64 (quasi-Monte-Carlo draws
    shared by every profile evaluated on them)."""
    return torch.quasirandom.SobolEngine(dims, scramble=True, seed=seed).draw(
        points, dtype=torch.float64)


def sobol_values(points: int, seed: int = 0) -> torch.Tensor:
    """[points, 3] scrambled Sobol values of the LLG auction: locals on U[0,1], the global on
    U[0,2]."""
    return sobol_unit(points, 3, seed) * torch.tensor([1.0, 1.0, GLOBAL_HIGH],
                                                      dtype=torch.float64)


def expected_outcome(mechanism: Mechanism | str, params: torch.Tensor, points: int = 2**18,
                     seed: int = 0) -> dict[str, torch.Tensor]:
    """Hard-auction expectations by quasi-Monte-Carlo (scrambled Sobol, ``points`` draws shared
    by every profile) for local profiles ``params`` [P, 2, 2]; the global bids truthfully.

    Returns tensors [P]: ``revenue``, ``welfare`` (Σ values of the winners), ``utility_local``
    (mean of the two locals), ``utility_global``, ``efficiency`` (welfare / optimal welfare).
    """
    mechanism = make_mechanism(mechanism)
    values = sobol_values(points, seed)  # [points, 3]
    locals_ = affine_bids(params.to(torch.float64), values[None, :, :2].expand(
        params.shape[0], -1, -1))
    bids = torch.cat([locals_, values[None, :, 2:].expand(params.shape[0], -1, -1)], dim=-1)
    allocation, payment = mechanism.hard_outcome(bids, torch.Generator().manual_seed(seed))
    utility = values * allocation - payment
    welfare = (values * allocation).sum(-1).mean(-1)
    optimal = torch.maximum(values[:, 0] + values[:, 1], values[:, 2]).mean()
    return {
        "revenue": payment.sum(-1).mean(-1),
        "welfare": welfare,
        "utility_local": utility[..., :2].mean(-1).mean(-1),
        "utility_global": utility[..., 2].mean(-1),
        "efficiency": welfare / optimal,
    }


def bne_outcome(mechanism: str, points: int = 2**20, seed: int = 0) -> dict[str, float]:
    """The BNE's expectations (numerically, by :func:`expected_outcome`)."""
    a, w = bne_params(mechanism)
    params = torch.tensor([[[a, w], [a, w]]], dtype=torch.float64)
    return {key: float(value[0]) for key, value in
            expected_outcome(mechanism, params, points, seed).items()}
