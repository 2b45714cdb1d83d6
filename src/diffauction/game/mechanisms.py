"""The mechanisms of the game layer and the registry that builds them by name.

One class per auction format, each with its hard rule and its smoothed relaxation
(:mod:`diffauction.game.core` explains the interface and the shape conventions):

* single item (:mod:`~diffauction.game.single_item`): first, second and third price, all-pay;
* k identical units with unit demand (:mod:`~diffauction.game.multi_unit`): pay as bid,
  uniform price;
* the LLG combinatorial auction (:mod:`~diffauction.game.llg`): VCG, nearest-VCG.

A new mechanism is one class in one of those modules, one entry here, and its equilibrium in
:mod:`diffauction.equilibria`.
"""

from __future__ import annotations

from diffauction.game.core import (  # noqa: F401 (the game layer's public names)
    Mechanism,
    bid_margin,
    broadcast_per_run,
    hard_allocation,
    highest_competing_bid,
    kth_highest_competing_bid,
    smoothed_win_probability,
)
from diffauction.game.llg import LLGVCG, LLGNearestVCG
from diffauction.game.multi_unit import (  # noqa: F401
    MultiUnitMechanism,
    PayAsBid,
    UniformPrice,
    unit_demand_allocation,
)
from diffauction.game.single_item import AllPay, FirstPrice, SecondPrice, ThirdPrice

#: The single-item formats for any N ≥ 2. Other modules iterate this registry as "the single-item
#: auctions" (the environment, the learners comparison), so it stays exactly these three;
#: :data:`ALL_MECHANISMS` adds third price (N ≥ 3), the k-unit and the LLG formats.
MECHANISMS: dict[str, type[Mechanism]] = {
    cls.name: cls for cls in (FirstPrice, SecondPrice, AllPay)
}

#: Every format :func:`make_mechanism` builds; the k-unit ones need ``k`` (the number of units).
ALL_MECHANISMS: dict[str, type[Mechanism]] = {
    **MECHANISMS,
    **{cls.name: cls for cls in (ThirdPrice, PayAsBid, UniformPrice, LLGVCG, LLGNearestVCG)},
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
