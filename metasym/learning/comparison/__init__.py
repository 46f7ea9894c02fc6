"""Comparison: learned versus exact, per layer and per network, for every problem kind.

May import models, data and learners, the engine's result type
(``engine.protocol.Comparison``) and the ground floor; never problems or the engine's loop.
"""
