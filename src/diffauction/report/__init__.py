"""Report: LaTeX macros and tables from the experiments' tables, one module per section, one kit
(:mod:`.latex`). Every number in ``paper/`` comes from here.
"""
