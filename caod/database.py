"""The one connection to the database file, kept pointing at the file at the path.

Opening closes the connection again on any failure: aiosqlite's thread is not
a daemon thread, and one left open keeps the process from ever exiting.

Before each batch the writer asks for `checked()`. The file at the path is
compared with the one we opened (device and inode, one stat): a connection to a
deleted or replaced file goes on writing into the old inode, and all of it is
gone at the next start. Then a complete copy of the open database (its WAL
included) is made while nothing is closed yet, so a failure loses nothing; the
old connection is closed and the copy takes the path. A WAL deleted or replaced
under us: reopen (closing checkpoints ours into the database first).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Awaitable, Callable

import aiosqlite

from caod import dbfile, paths
from caod.dbfile import CorruptDatabase, FileId, StorageError
from caod.logs import log

Prepare = Callable[[aiosqlite.Connection], Awaitable[int]]  # schema set-up; returns the commit count


async def in_thread(db: aiosqlite.Connection, fn: Callable[..., Any], *args: Any) -> Any:
    """`fn(sqlite3_connection, *args)` in the connection's own thread, as one call.

    aiosqlite makes each statement a round trip between the loop and its thread (a
    queue put, a wake-up, a call_soon_threadsafe); a batch of writes run this way
    costs the loop two hops instead of two per statement. aiosqlite has no public
    form of this: `_execute` and `_conn` are what its own methods use."""
    return await db._execute(lambda: fn(db._conn, *args))


class Database:
    def __init__(self, path: Path, prepare: Prepare):
        self.path = path
        self._prepare = prepare
        self._db: aiosqlite.Connection | None = None
        self._usable = asyncio.Event()  # clear while the connection is being replaced
        self._usable.set()
        self._ids: tuple[FileId | None, FileId | None] = (None, None)  # the db and WAL we opened
        self.commits = 0  # from the database when it was opened
        self.generation = 0  # counts connections made
        self.why_closed = "closed"

    @property
    def wal(self) -> Path:
        return dbfile.wal_path(self.path)

    async def connect(self, check: bool = False) -> None:
        """Connect to the file at the path. `check`: run SQLite's quick check (at start)."""
        try:
            paths.prepare_database(self.path)  # 0600, and so are the -wal and -shm SQLite makes
        except OSError as e:
            raise StorageError(f"cannot open the database {self.path}: {dbfile.reason(e)}") from None
        db = await aiosqlite.connect(self.path)
        try:
            await db.execute("PRAGMA busy_timeout=5000")
            if check:  # before anything writes: a damaged file is set aside as it was found
                problems = [r[0] for r in await db.execute_fetchall("PRAGMA quick_check(3)")]
                if problems != ["ok"]:
                    raise CorruptDatabase(" ".join(" ".join(problems).split())[:300])  # one line
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute("PRAGMA synchronous=NORMAL")
            commits = await self._prepare(db)
        except BaseException as e:
            try:
                await db.close()
            except Exception:
                pass
            if isinstance(e, StorageError) or not isinstance(e, Exception):
                raise
            if dbfile.is_corrupt(e):
                raise CorruptDatabase(dbfile.reason(e)) from None
            self.why_closed = dbfile.reason(e)
            raise StorageError(f"cannot open the database {self.path}: {dbfile.reason(e)}") from None
        self.commits = commits
        self._ids = (dbfile.file_id(self.path), dbfile.file_id(self.wal))
        self._db = db
        self.generation += 1
        self._usable.set()

    async def checked(self) -> aiosqlite.Connection:
        """The connection, once the file at the path is known to be the one it writes."""
        self._usable.clear()  # reads wait for the new connection, they never meet a closed one
        try:
            if self._db is not None:
                db_id, wal_id = self._ids
                if dbfile.file_id(self.path) != db_id:
                    await self._copy_out(self._db)
                    await self._disconnect()
                elif wal_id is not None and dbfile.file_id(self.wal) != wal_id:
                    self._clear_wal(ours=wal_id)  # before closing: SQLite's close would delete it by name
                    await self._checkpoint(self._db)
                    await self._disconnect()
                    log.warning("the database's WAL was deleted or replaced while caod ran; reopened",
                                path=str(self.path))
            if self._db is None:
                copy = self._copy_path()
                if copy.exists():  # the copy is the database now: put it in place first
                    if dbfile.file_id(self.wal) == self._ids[1]:  # our old WAL: all of it is in the copy
                        self.wal.unlink()
                    self.path.with_name(self.path.name + "-shm").unlink(missing_ok=True)  # an index, no data
                    if dbfile.file_id(self.path) is not None:  # replaced: keep the other file, never delete it
                        aside = dbfile.set_aside(self.path, "replaced", with_mark=False)  # with its own WAL
                        log.warning("the database was replaced while caod ran; the other file was moved aside",
                                    path=str(self.path), moved_to=str(aside))
                    self._clear_wal(ours=None)  # a WAL with no database: not ours either
                    copy.rename(self.path)
                    dbfile.sync_dir(self.path.parent)
                    log.warning("the database was deleted or replaced while caod ran; written again from "
                                "the open copy", path=str(self.path))
                await self.connect()
        finally:
            self._usable.set()
        assert self._db is not None
        return self._db

    async def _checkpoint(self, db: aiosqlite.Connection) -> None:
        """Everything in the (unreachable) WAL into the database file, or StorageError (retried later)."""
        try:
            busy, _, _ = (await db.execute_fetchall("PRAGMA wal_checkpoint(TRUNCATE)"))[0]
        except Exception as e:
            raise StorageError(f"cannot store: the WAL of {self.path} was deleted while caod ran, and "
                               f"saving it failed: {dbfile.reason(e)}") from None
        if busy:
            raise StorageError(f"cannot store: the WAL of {self.path} was deleted while caod ran, and "
                               f"another reader keeps it from being saved")

    def settle_copy(self) -> None:
        """At start: a copy left by a daemon that died while putting it in place is the
        newest state when no database is at the path; next to one, it is kept aside."""
        copy = self._copy_path()
        if not copy.exists():
            return
        if dbfile.file_id(self.path) is None:
            self._clear_wal(ours=None)
            copy.rename(self.path)
            log.warning("a copy of the database a previous run wrote was put in place", path=str(self.path))
        else:
            aside = dbfile.set_aside(copy, "unused", with_mark=False)
            log.warning("a copy of the database a previous run wrote was kept aside", moved_to=str(aside))

    def _copy_path(self) -> Path:
        return self.path.with_name(self.path.name + ".restoring")

    async def _copy_out(self, db: aiosqlite.Connection) -> None:
        copy = self._copy_path()
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            copy.unlink(missing_ok=True)
            await db.execute("VACUUM INTO ?", (str(copy),))
            copy.chmod(0o600)
        except Exception as e:
            copy.unlink(missing_ok=True)
            raise StorageError(f"cannot store: {self.path} was deleted or replaced while caod ran, and "
                               f"writing it again failed: {dbfile.reason(e)}") from None

    def _clear_wal(self, ours: FileId | None) -> None:
        """No WAL may stay at the path that the next connection should not replay:
        our old one (all of it is in the copy) goes; anyone else's is renamed, never deleted."""
        found = dbfile.file_id(self.wal)
        if found is None:
            return
        if found == ours:
            self.wal.unlink(missing_ok=True)
            return
        aside = dbfile.set_wal_aside(self.path, "replaced")
        log.warning("a WAL that is not the database's was moved aside", moved_to=str(aside))

    async def _disconnect(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            try:
                await db.close()  # checkpoints into the file it has open
            except Exception as e:
                log.error("closing the old database connection failed", path=str(self.path), error=repr(e))

    async def rollback(self) -> None:
        if self._db is None:
            return
        try:
            await self._db.rollback()
        except Exception:
            pass  # a rollback that fails leaves nothing half-committed either

    async def read(self, sql: str, params: tuple = ()) -> list[Any]:
        await self._usable.wait()
        if self._db is None:
            raise StorageError(f"cannot read: the database {self.path} is not open ({self.why_closed})")
        try:  # one call on the connection's thread: never split across a reconnect
            return list(await self._db.execute_fetchall(sql, params))
        except Exception as e:
            if dbfile.is_storage_failure(e):
                raise StorageError(f"cannot read: {dbfile.reason(e)} ({self.path})") from None
            raise

    async def close(self) -> None:
        self.why_closed = "closed"
        await self._disconnect()
