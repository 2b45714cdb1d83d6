"""Valuation priors.

Every prior samples independent private values for all agents at once, shaped
``[runs, batch, agents]`` (or any leading shape), and knows its support so that policies and
metrics can build grids on ``[low, high]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class UniformPrior:
    """Values v ~ U[low, high], independent across agents and draws."""

    low: float = 0.0
    high: float = 1.0

    def __post_init__(self) -> None:
        if not self.high > self.low:
            raise ValueError(
                f"prior.high must be greater than prior.low, got low={self.low}, high={self.high}"
            )

    @property
    def name(self) -> str:
        return "uniform"

    @property
    def v_max(self) -> float:
        return self.high

    def transform(self, unit: torch.Tensor) -> torch.Tensor:
        """Map U[0,1) draws to this prior by the inverse CDF (here an affine map)."""
        return self.low + (self.high - self.low) * unit

    def cdf(self, v: torch.Tensor) -> torch.Tensor:
        return ((v - self.low) / (self.high - self.low)).clamp(0.0, 1.0)

    def sample(
        self,
        shape: tuple[int, ...],
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float64,
        device: str | torch.device = "cpu",
    ) -> torch.Tensor:
        unit = torch.rand(shape, generator=generator, dtype=dtype, device=device)
        return self.transform(unit)


PRIORS = {"uniform": UniformPrior}


def make_prior(spec: dict) -> UniformPrior:
    """Build a prior from its config mapping, e.g. ``{"name": "uniform", "low": 0, "high": 1}``."""
    params = {k: v for k, v in spec.items() if k != "name"}
    try:
        cls = PRIORS[spec["name"]]
    except KeyError:
        raise ValueError(
            f"prior.name: unknown prior {spec.get('name')!r}; allowed: {sorted(PRIORS)}"
        ) from None
    return cls(**params)
