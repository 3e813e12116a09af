"""Packages that load their heavy parts on first use.

A package lists its public names in ``__all__`` and hands the names that live in
heavy modules (torch, matplotlib, gpytorch) to :func:`lazy_exports`; the module-level
``__getattr__`` it returns imports such a module the first time one of its names is
read, and ``__dir__`` shows the public names only::

    __all__ = ["lr_range_test", "training"]
    __getattr__, __dir__ = lazy_exports(
        __name__, __all__, {"bayestune.lr_finder": ["lr_range_test"]},
        submodules=["training"])

``import bayestune`` (and so every ``bayestune`` command) then stays free of torch.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str,
    public: Iterable[str],
    attributes: Mapping[str, Iterable[str]] | None = None,
    *,
    submodules: Iterable[str] = (),
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's ``__getattr__`` and ``__dir__``.

    Args:
        package: The package's ``__name__``.
        public: Its public names (``__all__``); ``dir()`` lists these.
        attributes: ``{module: names}``: each name is that module's attribute of the
            same name, imported on first use.
        submodules: Names that are the package's own submodules, imported on first use.

    Raises:
        ValueError: when a lazy name is not public, or is listed twice.
    """
    shown = sorted(set(public))
    where: dict[str, tuple[str, bool]] = {}
    for module, names in (attributes or {}).items():
        for name in names:
            where[name] = (module, False) if name not in where else ("", True)
    for name in submodules:
        where[name] = (f"{package}.{name}", True) if name not in where else ("", True)
    bad = sorted(n for n, (m, _) in where.items() if not m or n not in shown)
    if bad:
        raise ValueError(f"{package}: lazy names {bad} are listed twice or not in __all__")

    def __getattr__(name: str) -> Any:  # noqa: N807 - the module hook's own name
        try:
            module, whole = where[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = importlib.import_module(module)
        if not whole:
            value = getattr(value, name)
        setattr(sys.modules[package], name, value)  # later reads skip this hook
        return value

    def __dir__() -> list[str]:  # noqa: N807
        return list(shown)

    return __getattr__, __dir__
