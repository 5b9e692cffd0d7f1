"""Cygnet's datapath: compile one gateway's slice of the intent into kernel objects.

Nothing here imports from ``app``: the application hands in plain intent objects
(:mod:`datapath.intent`) and gets back kernel objects (:mod:`datapath.objects`),
plans and results.
"""
