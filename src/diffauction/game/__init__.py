"""The game: what the bidders play, written once and known to no learner.

Mechanisms (hard rule and smoothed relaxation, batched ``[runs, batch, agents]``): single item
(first, second, third price, all-pay), k units with unit demand (pay as bid, uniform price) and
the LLG combinatorial auction, built by name in :mod:`.mechanisms`; valuation priors; bid
policies (linear, affine, neural); CRRA risk attitudes. Imports nothing else of the package.
"""
