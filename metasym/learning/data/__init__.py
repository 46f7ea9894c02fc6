"""Data: task distributions (1-D, images), few-shot episodes, the glyph set, real-data loaders
and augmentations with their exact groups.

May import the ground floor (``registry``, ``limits``, ``stats``) and the layers below;
never models, learners, comparison, problems or the engine.
"""
