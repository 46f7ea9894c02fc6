"""Experiments: the paper's tables (``metasym reproduce table1/2/3``), each a set of runs.

Sits on top: may import the engine, the problems and every room below them.
"""
