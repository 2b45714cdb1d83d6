"""Equilibria: which Bayes-Nash equilibrium a setting has (:mod:`.registry`, from the closed
forms of :mod:`.closed_form`, :mod:`.multiunit`, :mod:`.llg`) and the smoothed game's own
equilibrium w̃(β, N) (:mod:`.smoothed`). Imports the game only.
"""
