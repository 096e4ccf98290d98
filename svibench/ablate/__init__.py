"""Ablations: retrain a model for every value (x seed) of some trainer parameters, evaluate every
variant through the normal runner, and compare them in one table with CIs and paired tests.

``spec`` (what to sweep), ``jobs`` (plan, train, evaluate), ``tables`` (relabelled rows through
the standard analysis tables); rendering lives in svibench.render.
"""
