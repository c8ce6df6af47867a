"""The database file on disk: what SQLite cannot tell us by itself.

- Whether a failure is the storage's (a full disk, an I/O error, a damaged
  file: retry later, tell the caller) or one statement's (a bug: drop it).
- Whether the file at the path is still the one we opened: a connection to
  a deleted or replaced file goes on writing into the old inode, and all of
  it is gone at the next start.
- Setting a damaged file aside under a new name: never deleted.
- How far the last run got. SQLite silently keeps the valid prefix of a WAL
  that was cut short, so a small mark file, written after each commit, keeps
  the commit count and the newest message id to compare with at the next start.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from caod.protocol import ErrorCode
from caod.rpc import RpcError


class StorageError(RpcError):
    """The database could not take (or give) data; the call that needed it fails with this."""

    def __init__(self, message: str):
        super().__init__(ErrorCode.STORAGE_FAILED, message)


class CorruptDatabase(StorageError):
    """The file is not a database, or a damaged one."""


# SQLite primary result codes that say the storage failed, not the statement.
_BUSY, _LOCKED, _NOMEM, _READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _PROTOCOL, _NOTADB = (
    5, 6, 7, 8, 10, 11, 13, 14, 15, 26)
_STORAGE_CODES = {_BUSY, _LOCKED, _NOMEM, _READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _PROTOCOL, _NOTADB}


def _primary_code(exc: BaseException) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def is_storage_failure(exc: BaseException) -> bool:
    """True for a failure that a later attempt may not meet (space, I/O, locks, a lost
    connection); False for one statement's own error (a constraint, bad SQL)."""
    if isinstance(exc, StorageError):
        return True
    if isinstance(exc, sqlite3.Error):
        return _primary_code(exc) in _STORAGE_CODES
    return isinstance(exc, (OSError, ValueError))  # ValueError: aiosqlite's "Connection closed"


def is_corrupt(exc: BaseException) -> bool:
    return _primary_code(exc) in (_CORRUPT, _NOTADB)


def reason(exc: BaseException) -> str:
    """A person's words for a storage failure."""
    if isinstance(exc, StorageError):
        return exc.message
    if _primary_code(exc) == _FULL:
        return "no space left on device"
    if isinstance(exc, OSError) and exc.errno:
        return os.strerror(exc.errno).lower()
    return str(exc) or type(exc).__name__


# ---------------------------------------------------------------- identity


@dataclass(frozen=True)
class FileId:
    dev: int
    ino: int


def file_id(path: Path) -> FileId | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return FileId(st.st_dev, st.st_ino)


def wal_path(db: Path) -> Path:
    return db.with_name(db.name + "-wal")


def mark_path(db: Path) -> Path:
    return db.with_name(db.name + ".commits")


def _free_name(path: Path, label: str) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = path.with_name(f"{path.name}.{label}-{stamp}")
    n = 1
    while any(target.with_name(target.name + s).exists() for s in ("", "-wal", "-shm", ".commits")):
        n += 1
        target = path.with_name(f"{path.name}.{label}-{stamp}-{n}")
    return target


def set_aside(db: Path, label: str, with_mark: bool = True) -> Path:
    """Rename `db` (with its -wal, -shm and mark file) to `<name>.<label>-<UTC time>`.

    The WAL goes first: a new database must never meet the old one's WAL,
    which SQLite would replay into it.
    """
    target = _free_name(db, label)
    suffixes = ["-wal", "-shm", ".commits", ""] if with_mark else ["-wal", "-shm", ""]
    for suffix in suffixes:
        try:
            os.rename(db.with_name(db.name + suffix), target.with_name(target.name + suffix))
        except FileNotFoundError:
            pass
    return target


def set_wal_aside(db: Path, label: str) -> Path:
    """A WAL that is not the one our connection writes: renamed, never replayed, never deleted."""
    wal = wal_path(db)
    target = _free_name(wal, label)
    os.rename(wal, target)
    return target


def sync_dir(path: Path) -> None:
    """Make a rename in `path` durable."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ---------------------------------------------------------------- the commit mark


@dataclass(frozen=True)
class Mark:
    commits: int
    message: int  # the newest message id committed


_MARK_FORMAT = b"%020d %020d\n"
_MARK_SIZE = len(_MARK_FORMAT % (0, 0))


class CommitMark:
    """`<db>.commits`: a fixed-size record rewritten in place after each commit.

    In place, so it needs no new disk space; without fsync (as the WAL itself
    with synchronous=NORMAL). It can therefore miss a loss, but never report one
    that did not happen: it is written only after SQLite says a commit is done.
    """

    def __init__(self, db: Path):
        self.path = mark_path(db)
        self._fd: int | None = None

    def read(self) -> Mark | None:
        try:
            with open(self.path, "rb") as fh:
                raw = fh.read(_MARK_SIZE)
            commits, message = raw.split()
            return Mark(int(commits), int(message))
        except (OSError, ValueError):
            return None

    def open(self) -> None:
        self.close()
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        except OSError:
            self._fd = None  # best effort: without it a cut WAL goes unreported, nothing else

    def write(self, mark: Mark) -> None:
        if self._fd is None:
            return
        try:
            os.pwrite(self._fd, _MARK_FORMAT % (mark.commits, mark.message), 0)
        except OSError:
            pass

    def close(self) -> None:
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd = None


def lost_since_last_run(last: Mark | None, now: Mark) -> str | None:
    """What the database lost against the mark the last run left, in words; None if nothing."""
    if last is None or now.commits >= last.commits:
        return None
    if now.commits == 0:
        return (f"the database has none of the {last.commits} writes the last run committed (newest message "
                f"id {last.message}): it was deleted or replaced while caod was stopped, or its WAL was lost")
    lost = last.commits - now.commits
    messages = max(0, last.message - now.message)
    if messages == 0:
        which = "no messages among them"
    elif messages == 1:
        which = f"1 message: id {last.message} is gone"
    else:
        which = f"{messages} messages: ids {now.message + 1}..{last.message} are gone"
    writes = "its last committed write" if lost == 1 else f"its last {lost} committed writes"
    return (f"the database lost {writes} ({which}) - its WAL was cut short "
            f"(a power loss or an operating system crash, or the -wal file truncated or removed)")
