"""Small demo helpers that individual chapters need (one module per topic).

They are thin on purpose: the behaviour they show lives in the core modules; these
only arrange a demonstration so a notebook cell stays short.
"""
