"""The built-in problem kinds of the engine (each one plug-in, registered by name):

* :mod:`~metasym.learning.problems.regression`: the paper's 1-D problems (``rank1``,
  ``rank2``, ``rank5``), equivariant maps of any group (``equivariant``) and the
  reference implementation's ``.npz`` files (``--data``);
* :mod:`~metasym.learning.problems.images`: lifting convolutions on images (``c4``,
  ``d4``, ``rot8``, ``rot8_flip``);
* :mod:`~metasym.learning.problems.fewshot`: N-way K-shot classification with a conv4
  network (``glyphs``, offline; ``omniglot`` and ``miniimagenet`` from ``--data``);
* :mod:`~metasym.learning.problems.custom`: runs of a user's own learner and task source
  (read back file-level: learned ``U`` of each MSR layer against the given answers).

May import the engine's protocol and every room below (models, data, learners,
comparison); never the experiments.
"""

__all__: list[str] = []
