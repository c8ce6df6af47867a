"""Provider registry: one module per CLI in this package, looked up by name."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # kept lazy: the scripted agent imports this package and must start fast
    from providers.base import CompiledProvider
_NOT_PROVIDERS = {"base", "scripted_cli"}


class UnknownProvider(LookupError):
    pass


def names() -> list[str]:
    return sorted(
        m.name for m in pkgutil.iter_modules(__path__) if m.name not in _NOT_PROVIDERS and not m.name.startswith("_")
    )


@cache
def get(name: str) -> "CompiledProvider":
    if name not in names():
        raise UnknownProvider(f"unknown provider {name!r} (known: {', '.join(names())})")
    module = importlib.import_module(f"providers.{name}")
    spec = module.PROVIDER
    return spec.compiled()
