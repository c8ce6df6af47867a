"""Provider registry: one module per CLI in this package, plus the user's data files.

A built-in provider is a module defining `PROVIDER = Provider(...)` and, only
where data cannot say it, `classify(lines) -> Status | None`. A user adds a
CLI without touching caod: a TOML file `<name>.toml` in the providers folder
($CAOD_PROVIDERS_DIR, else $XDG_CONFIG_HOME/caod/providers, else
~/.config/caod/providers) with the same fields as `providers.base.Provider`.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # kept lazy: the scripted agent imports this package and must start fast
    from providers.base import CompiledProvider

_NOT_PROVIDERS = {"base", "scripted_cli"}
_user_cache: dict[Path, tuple[float, "CompiledProvider"]] = {}
_builtin_cache: dict[str, "CompiledProvider"] = {}


class UnknownProvider(LookupError):
    pass


class BadProvider(ValueError):
    """A user provider file that does not describe a valid provider."""


def user_dir() -> Path:
    explicit = os.environ.get("CAOD_PROVIDERS_DIR")
    if explicit:
        return Path(explicit).expanduser()
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "caod" / "providers"


def builtin_names() -> list[str]:
    return sorted(
        m.name for m in pkgutil.iter_modules(__path__) if m.name not in _NOT_PROVIDERS and not m.name.startswith("_")
    )


def user_files() -> dict[str, Path]:
    folder = user_dir()
    if not folder.is_dir():
        return {}
    return {f.stem: f for f in sorted(folder.glob("*.toml"))}


def names() -> list[str]:
    return sorted(set(builtin_names()) | set(user_files()))


def load_file(path: Path) -> "CompiledProvider":
    """Read and validate one provider data file."""
    import msgspec

    from providers.base import Provider

    try:
        spec = msgspec.toml.decode(path.read_bytes(), type=Provider)
    except (msgspec.ValidationError, msgspec.DecodeError) as e:
        raise BadProvider(f"invalid provider file {path}: {e}") from None
    if spec.name != path.stem:
        raise BadProvider(f"invalid provider file {path}: name {spec.name!r} does not match the file name")
    try:
        return spec.compiled()
    except Exception as e:  # a bad regex, most likely
        raise BadProvider(f"invalid provider file {path}: {e}") from None


def get(name: str) -> "CompiledProvider":
    """A user file of that name wins over the built-in, so people can adjust one."""
    path = user_files().get(name)
    if path is not None:
        mtime = path.stat().st_mtime
        cached = _user_cache.get(path)
        if cached is None or cached[0] != mtime:
            cached = (mtime, load_file(path))
            _user_cache[path] = cached
        return cached[1]
    if name in _builtin_cache:
        return _builtin_cache[name]
    if name not in builtin_names():
        raise UnknownProvider(f"unknown provider {name!r} (known: {', '.join(names())})")
    module = importlib.import_module(f"providers.{name}")
    compiled = module.PROVIDER.compiled(getattr(module, "classify", None))
    _builtin_cache[name] = compiled
    return compiled
