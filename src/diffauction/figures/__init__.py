"""Figures: one function per figure of the report, one shared style (:mod:`.style`)."""
