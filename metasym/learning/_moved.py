"""The learning layer's module paths before it was split into rooms (0.1), kept importable
for one release: ``import metasym.learning.images`` still works and warns once.

A finder on :data:`sys.meta_path` answers only for the old names below. A module that
moved whole is the new module itself; a module that was split becomes a small alias
module whose attributes are looked up in its new homes, in order.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
import warnings
from typing import Any

__all__ = ["MOVED", "install"]

_PKG = "metasym.learning"

#: old module (under ``metasym.learning``) -> its new home(s), first = main one
MOVED: dict[str, tuple[str, ...]] = {
    "layers": ("models.linear",),
    "conv2d": ("models.conv",),
    "convnet": ("models.convnet",),
    "maml": ("learners.maml",),
    "augment": ("data.augment",),
    "tasks": ("data.tasks",),
    "images": ("data.images", "learners.conv", "comparison.images"),
    "fewshot": ("data.episodes", "learners.fewshot", "comparison.fewshot"),
    "fewshot_data": ("data.classes", "data.glyphs", "data.loaders"),
    "compare": ("comparison.subspaces", "comparison.regression"),
    "fewshot_compare": ("comparison.fewshot", "comparison.subspaces"),
    "reproduce": ("experiments.table1", "experiments.tables"),
    "table2": ("experiments.table2",),
    "table3": ("experiments.table3",),
}


class _AliasModule(types.ModuleType):
    """An old split module: attributes come from the new modules, in order."""

    _homes: tuple[str, ...] = ()

    def __getattr__(self, name: str) -> Any:
        for home in self._homes:
            mod = importlib.import_module(home)
            if hasattr(mod, name):
                return getattr(mod, name)
        raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")

    def __dir__(self) -> list[str]:
        names: set[str] = set()
        for home in self._homes:
            names |= set(dir(importlib.import_module(home)))
        return sorted(names)


class _Loader(importlib.abc.Loader):
    def __init__(self, old: str) -> None:
        self.old = old

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return None  # the default: a plain module, replaced in exec_module

    def exec_module(self, module: types.ModuleType) -> None:
        homes = tuple(f"{_PKG}.{h}" for h in MOVED[self.old])
        warnings.warn(f"{_PKG}.{self.old} has moved to {' and '.join(homes)}; the old "
                      "path works for one more release", DeprecationWarning, stacklevel=2)
        if len(homes) == 1:
            new = importlib.import_module(homes[0])
        else:
            new = _AliasModule(module.__name__, f"Moved to {', '.join(homes)}.")
            new._homes = homes
            new.__all__ = [n for h in homes for n in getattr(importlib.import_module(h),
                                                              "__all__", ())]
        # the import system returns whatever sits in sys.modules under the name
        sys.modules[module.__name__] = new


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any = None, target: Any = None
                  ) -> importlib.machinery.ModuleSpec | None:
        pkg, _, old = fullname.rpartition(".")
        if pkg != _PKG or old not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, _Loader(old))


def install() -> None:
    """Put the finder on :data:`sys.meta_path` (once)."""
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.append(_Finder())
