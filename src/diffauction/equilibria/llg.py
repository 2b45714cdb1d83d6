"""The LLG (local-local-global) auction's Bayes-Nash equilibrium (independent case;
Ausubel & Baranov 2020; Goeree & Lien 2016).

Two local bidders want item A (agent 0) and item B (agent 1), values U[0, 1]; one global bidder
(agent 2) wants the bundle AB, value U[0, 2], and bids truthfully (dominant for it under both
rules). The locals' BNE is affine, b(v) = max(0, a* + w*·v):

=============  ====================================  =========================================
rule           local BNE bid                         locals' / global's BNE utility
=============  ====================================  =========================================
VCG            v (truthful, dominant)
nearest-VCG    max(0, v − (3 − √8))                  0.1332 / 0.4673
=============  ====================================  =========================================
"""

from __future__ import annotations

import math

from diffauction.game.mechanisms import LLG_MECHANISMS

NEAREST_VCG_SHIFT = 3.0 - math.sqrt(8.0)  # 0.1716: nearest-VCG locals shade by this much
GLOBAL_HIGH = 2.0  # the global bidder's value is U[0, 2]
#: locals' and global's BNE utilities, independent case (Ausubel & Baranov 2020)
ANCHOR_UTILITIES = {"llg_nearest_vcg": (0.1332, 0.4673)}


def bne_params(mechanism: str) -> tuple[float, float]:
    """(a*, w*) of the locals' affine BNE b(v) = max(0, a* + w*·v)."""
    if mechanism == "llg_vcg":
        return 0.0, 1.0
    if mechanism == "llg_nearest_vcg":
        return -NEAREST_VCG_SHIFT, 1.0
    raise ValueError(f"mechanism: not an LLG rule: {mechanism!r}; allowed: {list(LLG_MECHANISMS)}")
