"""Learners: the functional MAML meta-learner, its closed-form fast path for the MSR layer,
and the meta-learners of the image and few-shot problems.

May import models and data (and the ground floor); never comparison, problems or the engine.
"""
