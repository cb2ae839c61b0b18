"""Finding a package's feature modules, so that adding a feature is adding a module."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from types import ModuleType


def each_module(package: str) -> Iterator[ModuleType]:
    """Every module of the package named `package`, imported, in name order (so that
    registrations come out the same on every start)."""
    path = importlib.import_module(package).__path__
    for info in sorted(pkgutil.iter_modules(path), key=lambda i: i.name):
        yield importlib.import_module(f"{package}.{info.name}")
