"""Problem kinds registered by name.

The built-in kinds are imported lazily (their modules import torch and build data);
:data:`~metasym.learning.registry.PROBLEMS` and friends name them without importing
anything, for the command line. A user's problem kind is registered with
:func:`register_problem` and is then trained, resumed and compared like a built-in one.
"""

from __future__ import annotations

import importlib
from typing import Any

from metasym.errors import SpecError
from metasym.learning.registry import FEWSHOT_PROBLEMS, IMAGE_PROBLEMS, PROBLEMS

__all__ = ["register_problem", "get_problem", "problem_names", "problem_for_config"]

#: kind -> (module, attribute) of the built-in problem kinds
_BUILTIN_KINDS = {
    "regression": ("metasym.learning.problems.regression", "REGRESSION"),
    "images": ("metasym.learning.problems.images", "IMAGES"),
    "custom": ("metasym.learning.problems.custom", "CUSTOM"),
    "fewshot": ("metasym.learning.problems.fewshot", "FEWSHOT"),
}
#: problem name -> kind
_BUILTIN_NAMES = {**{n: "regression" for n in (*PROBLEMS, "data")},
                  **{n: "images" for n in IMAGE_PROBLEMS},
                  **{n: "fewshot" for n in FEWSHOT_PROBLEMS}}
_USER: dict[str, Any] = {}


def _kind(kind: str) -> Any:
    mod, attr = _BUILTIN_KINDS[kind]
    return getattr(importlib.import_module(mod), attr)


def register_problem(problem: Any, *, replace: bool = False) -> Any:
    """Register a :class:`~metasym.learning.engine.Problem` under each of its
    ``names``; returns it (usable as a class decorator's target instance)."""
    from metasym.learning.engine.protocol import Problem

    if not isinstance(problem, Problem):
        raise TypeError(f"expected a Problem instance, got {type(problem).__name__}")
    if not problem.names:
        raise SpecError("a problem kind needs at least one name")
    for name in problem.names:
        if not replace and (name in _BUILTIN_NAMES or name in _USER):
            raise SpecError(f"problem {name!r} is already registered")
    for name in problem.names:
        _USER[name] = problem
    return problem


def problem_names() -> tuple[str, ...]:
    """Every registered problem name (built-in first)."""
    return tuple(_BUILTIN_NAMES) + tuple(n for n in _USER if n not in _BUILTIN_NAMES)


def get_problem(name: str) -> Any:
    """The problem kind serving ``name`` (one-line error for an unknown name)."""
    if name in _USER:
        return _USER[name]
    if name in _BUILTIN_NAMES:
        return _kind(_BUILTIN_NAMES[name])
    raise SpecError(f"unknown problem {name!r}; choose from "
                    f"{', '.join(n for n in problem_names() if n != 'data')}")


def problem_for_config(data: dict[str, Any]) -> Any:
    """The problem kind of a run's ``config.json`` (``kind`` field; older runs: from the
    problem name)."""
    kind = data.get("kind")
    if kind in _BUILTIN_KINDS and data.get("problem") not in _USER:
        return _kind(kind)
    return get_problem(str(data.get("problem")))
