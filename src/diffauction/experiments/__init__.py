"""Experiments: one module per study of the report (the config's experiments in :mod:`.runs`,
over-shading, mechanism comparison, non-linear settings, learner comparison); each validates its
config section (:mod:`.config`, :mod:`.schema`) and writes tidy tables with provenance.
"""
