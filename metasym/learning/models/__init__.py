"""Models: the MSR layers (``vec(W) = U v``), their MAML baselines, conv banks and deep nets.

May import the learning layer's ground floor (``registry``, ``limits``, ``stats``) and the
layers below (groups, representations); never data, learners, problems or the engine.
"""
