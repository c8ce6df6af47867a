"""Where profiles live: the built-ins that ship with caod and the user's store."""

from __future__ import annotations

import os
import tempfile
from importlib import resources
from pathlib import Path

from caod import paths
from caod.profiles.parse import (
    BUILTIN,
    NAME_RE,
    USER,
    NoSuchProfile,
    Profile,
    ProfileError,
    ProfileExists,
    check_size,
    parse_profile,
)


# ---------------------------------------------------------------- built-ins


def _builtin_dir():
    return resources.files("caod.profiles").joinpath("builtin")


_builtins: dict[str, Profile] | None = None


def builtins() -> dict[str, Profile]:
    """The profiles that ship with caod, by name (parsed once)."""
    global _builtins
    if _builtins is None:
        found: dict[str, Profile] = {}
        for entry in sorted(_builtin_dir().iterdir(), key=lambda e: e.name):
            if not entry.name.endswith(".md"):
                continue
            text = entry.read_text(encoding="utf-8")
            profile = parse_profile(text, f"builtin/{entry.name}", origin=BUILTIN, path=str(entry))
            found[profile.name] = profile
        _builtins = found
    return _builtins


def builtin_names() -> list[str]:
    return sorted(builtins())


# ---------------------------------------------------------------- the store


class ProfileStore:
    """Built-in profiles plus the user's, which live in `<home>/profiles/<name>.md`.

    User files are read on every call, so hand edits take effect at once.
    """

    def __init__(self, home: Path | str):
        self.home = Path(home)
        self.dir = self.home / "profiles"

    # ------------------------------------------------------------ reading

    def user_path(self, name: str) -> Path:
        return self.dir / f"{name}.md"

    def _read_user(self, path: Path) -> Profile:
        check_size(path.stat().st_size, str(path))  # before reading it all
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ProfileError(f"invalid profile {path}: not UTF-8 text", str(path), "not UTF-8 text") from None
        profile = parse_profile(text, str(path), origin=USER, path=str(path))
        if profile.name != path.stem:
            problem = f"field 'name': {profile.name!r} does not match the file name {path.name}"
            raise ProfileError(f"invalid profile {path}: {problem}", str(path), problem)
        return profile

    def _user_files(self) -> list[Path]:
        try:
            return sorted(p for p in self.dir.iterdir() if p.suffix == ".md" and p.is_file()
                          and not p.name.startswith("."))
        except FileNotFoundError:
            return []

    def scan(self) -> tuple[list[Profile], list[ProfileError]]:
        """Every usable profile (sorted by name; user over built-in) and the user files that are broken."""
        merged = dict(builtins())
        problems: list[ProfileError] = []
        for path in self._user_files():
            try:
                profile = self._read_user(path)
            except ProfileError as e:
                problems.append(e)
                continue
            except OSError as e:
                problems.append(ProfileError(f"cannot read {path}: {e.strerror}", str(path), e.strerror))
                continue
            merged[profile.name] = profile
        return [merged[n] for n in sorted(merged)], problems

    def list(self) -> list[Profile]:
        return self.scan()[0]

    def names(self) -> list[str]:
        return [p.name for p in self.list()]

    def get(self, name: str) -> Profile:
        """The user's profile `name`, else the built-in one.

        Raises NoSuchProfile, or ProfileError when the user's file is broken
        (a broken user file is not silently replaced by the built-in).
        """
        if NAME_RE.fullmatch(name or ""):
            path = self.user_path(name)
            if path.is_file():
                return self._read_user(path)
            if name in builtins():
                return builtins()[name]
        raise NoSuchProfile(f"no such profile {name!r} (known: {', '.join(self.names()) or 'none'})", name)

    # ------------------------------------------------------------ writing

    def install(self, text: str, source: str, force: bool = False) -> Profile:
        """Validate `text` and write it to `<home>/profiles/<name>.md` atomically.

        Installing the same text again is a no-op. A different user profile of
        the same name is replaced only with `force` (else ProfileExists). A
        name that matches a built-in is fine: the user's copy wins.
        """
        profile = parse_profile(text, source)
        target = self.user_path(profile.name)
        try:
            current = target.read_text(encoding="utf-8")
        except FileNotFoundError:
            current = None
        except (OSError, UnicodeDecodeError):
            current = ""  # unreadable: different, by definition
        if current is not None and current != text and not force:
            raise ProfileExists(f"profile {profile.name!r} is already installed (use --force to replace it)",
                                source, "already installed")
        if current != text:
            self._write(target, text)
        profile.source = USER
        profile.path = str(target)
        return profile

    def install_builtin(self, name: str, force: bool = False) -> Profile:
        """Copy built-in `name` into the user store, where the user can edit it."""
        found = builtins().get(name)
        if found is None:
            raise NoSuchProfile(f"no such built-in profile {name!r} (built-ins: {', '.join(builtin_names())})", name)
        return self.install(found.text, f"builtin/{name}.md", force=force)

    def _write(self, target: Path, text: str) -> None:
        paths.make_private_dirs(self.dir)
        fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=f".{target.stem}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        try:  # make the rename itself durable
            dir_fd = os.open(self.dir, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(dir_fd)
        except OSError:
            pass
        finally:
            os.close(dir_fd)
