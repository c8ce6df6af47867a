"""Durable state in one SQLite database (aiosqlite, WAL mode).

Writes go through one writer task that commits them in batches: a status
storm costs one transaction, not one per change. Two kinds of write:

- `await commit(sql, params)`: the caller must not go on before its row is
  durable (a message it acknowledges). If the batch cannot be committed it
  raises StorageError and the row is dropped: never committed later, so a
  caller told "failed" is never contradicted.
- `write(sql, params)`: a record (a status change, an event). If the batch
  fails it is kept, in order, and committed with a later batch once the disk
  takes data again, so the records of an outage are not lost (up to
  MAX_KEPT of them; past that the newest are dropped and counted).

A failure never stops the writer. While failing, new records wait; the next
`commit()`/`sync()`, or a one-shot retry timer, tries again. Each batch also
counts itself in `meta` and in the mark file (see caod.dbfile), so a start
can tell when the end of the WAL was lost.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from caod import dbfile, schema
from caod.database import Database, in_thread
from caod.dbfile import CorruptDatabase, Mark, StorageError
from caod.logs import log
from caod.protocol import ErrorCode
from caod.rpc import RpcError
from caod.schema import COUNT_COMMIT, NEWEST_MESSAGE

__all__ = ["CorruptDatabase", "Store", "StorageError"]

MAX_KEPT = 10_000  # records kept for a retry while the disk is full
RETRY_FIRST_S, RETRY_MAX_S = 0.5, 10.0


@dataclass(slots=True)
class _Item:
    sql: str | None  # None: a marker that only waits for the batch (flush, sync)
    params: tuple = ()
    waiter: asyncio.Future | None = None
    must_commit: bool = False  # commit()/sync(): fail the waiter rather than keep the write


def _run_batch(conn: sqlite3.Connection, writes: list[_Item], count: int, bad: dict[int, Exception]) -> Any:
    """One batch as one transaction, in the database's thread; returns the newest message id.
    A statement that fails by itself goes into `bad`; a storage failure ends the batch."""
    for item in writes:
        try:
            conn.execute(item.sql, item.params)
        except Exception as e:
            if dbfile.is_storage_failure(e):
                raise
            bad[id(item)] = e
    conn.execute(COUNT_COMMIT, (count,))
    newest = conn.execute(NEWEST_MESSAGE).fetchall()[0][0]
    conn.commit()
    return newest


class Store:
    def __init__(self, path: Path):
        self.path = path
        self._db = Database(path, schema.prepare)
        self._mark = dbfile.CommitMark(path)
        self._mark_for = -1  # the connection the mark file was opened with (a new file may need a new mark)
        self._commits = 0
        self._pending: list[_Item] = []
        self._kept: list[_Item] = []  # records of failed batches, oldest first
        self._wake = asyncio.Event()
        self._writer: asyncio.Task | None = None
        self._closing = False
        self._closed = False  # the writer has finished: nothing queued now would ever be written
        self._failing: str | None = None  # why the last batch failed; None when writes succeed
        self._failing_since = 0.0
        self._dropped = 0  # records dropped past MAX_KEPT during this outage
        self._retry_delay = RETRY_FIRST_S
        self._retry_timer: asyncio.TimerHandle | None = None
        self._retry_due = False

    # ------------------------------------------------------------ opening

    async def open(self) -> None:
        """Open (or create) the database. A damaged file is set aside and CorruptDatabase raised."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        last = self._mark.read()
        try:
            self._db.settle_copy()
            await self._db.connect(check=True)
        except CorruptDatabase as e:
            try:
                aside = dbfile.set_aside(self.path, "corrupt")
            except OSError as moving:
                raise CorruptDatabase(f"the database {self.path} is damaged ({e.message}) and could not be moved "
                                      f"aside ({dbfile.reason(moving)}): move it away, then start caod again") from None
            log.error("database is damaged; set aside", path=str(self.path), moved_to=str(aside), error=e.message)
            raise CorruptDatabase(
                f"the database {self.path} is damaged ({e.message}); it was moved aside to {aside} and kept. "
                f"Start caod again to begin with an empty state (the old sessions, agents and messages are in "
                f"the file moved aside: sqlite3's .recover may get them back)") from None
        self._commits = self._db.commits
        try:
            now = Mark(self._commits, (await self.fetchone(NEWEST_MESSAGE))[0])
        except BaseException:
            await self._db.close()
            raise
        lost = dbfile.lost_since_last_run(last, now)
        if lost:
            log.warning(f"{self.path.name}: {lost}", path=str(self.path), mark_commits=last.commits,
                        db_commits=now.commits, mark_message=last.message, db_message=now.message)
        self._mark.open()
        self._mark_for = self._db.generation
        self._mark.write(now)
        self._writer = asyncio.create_task(self._write_loop(), name="store-writer")

    # ------------------------------------------------------------ writing

    def write(self, sql: str, params: tuple = ()) -> None:
        """Queue a record; kept and retried if its batch fails."""
        self._queue(_Item(sql, params))

    async def commit(self, sql: str, params: tuple = ()) -> None:
        """Queue a write and wait until it is committed; StorageError if it cannot be (then it never is)."""
        fut = asyncio.get_running_loop().create_future()
        self._queue(_Item(sql, params, fut, must_commit=True))
        await asyncio.shield(fut)  # a cancelled caller does not take the write back

    async def flush(self) -> None:
        """Wait until every write queued so far was tried (for reads: they see what was committed).
        Never raises."""
        fut = asyncio.get_running_loop().create_future()
        self._queue(_Item(None, waiter=fut))
        await asyncio.shield(fut)

    async def sync(self) -> None:
        """Wait until every write queued so far is committed; StorageError if some could not be."""
        fut = asyncio.get_running_loop().create_future()
        self._queue(_Item(None, waiter=fut, must_commit=True))
        await asyncio.shield(fut)

    def _queue(self, item: _Item) -> None:
        if self._closed:  # the writer is gone: a waiter would wait for ever
            if item.waiter is not None and item.must_commit:
                item.waiter.set_exception(RpcError(ErrorCode.SHUTTING_DOWN, "caod is stopping: nothing more is stored"))
            elif item.waiter is not None:
                item.waiter.set_result(None)
            return
        self._pending.append(item)
        self._wake.set()

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, []
            try:
                wanted = self._retry_due or self._closing or any(i.must_commit for i in batch)
                if self._failing is not None and not wanted:
                    self._keep([i for i in batch if i.sql is not None])  # no attempt per record
                    self._settle([i for i in batch if i.sql is None])
                    self._arm_retry()
                elif batch or self._kept:
                    self._retry_due = False
                    batch, self._kept = self._kept + batch, []
                    await self._commit(batch)
            except Exception as e:  # a bug here must not leave a caller waiting
                log.error("store writer failed", error=repr(e))
                self._fail(batch, f"cannot store: internal error {e!r} ({self.path})")
            if self._closing and not self._pending:
                return

    async def _commit(self, batch: list[_Item]) -> None:
        writes = [i for i in batch if i.sql is not None]
        if not writes:
            self._settle(batch)
            return
        bad: dict[int, Exception] = {}  # statements that fail by themselves: dropped, not retried
        try:
            db = await self._db.checked()
            newest = await in_thread(db, _run_batch, writes, self._commits + 1, bad)
        except Exception as e:
            await self._db.rollback()
            self._failed(batch, e, bad)
            return
        self._commits += 1
        if self._mark_for != self._db.generation:  # reconnected: the mark file may be gone with the old one
            self._mark.open()
            self._mark_for = self._db.generation
        self._mark.write(Mark(self._commits, newest))
        if self._failing is not None:
            log.warning("store writes succeed again", path=str(self.path),
                        after_s=round(time.time() - self._failing_since, 1), records_dropped=self._dropped)
            self._failing, self._dropped, self._retry_delay = None, 0, RETRY_FIRST_S
            if self._retry_timer is not None:
                self._retry_timer.cancel()
                self._retry_timer = None
        for item in batch:
            if id(item) in bad:
                if item.waiter is None:
                    log.error("store statement failed; dropped", sql=item.sql, error=repr(bad[id(item)]))
                elif not item.waiter.done():
                    item.waiter.set_exception(bad[id(item)])
            elif item.waiter is not None and not item.waiter.done():
                item.waiter.set_result(None)

    def _failed(self, batch: list[_Item], exc: Exception, bad: dict[int, Exception]) -> None:
        why = dbfile.reason(exc)
        message = why if isinstance(exc, StorageError) else f"cannot store: {why} ({self.path})"
        if self._failing is None:  # logged once per outage, not once per batch
            self._failing, self._failing_since = why, time.time()
            log.error("store writes fail; calls that must store data fail until they succeed again",
                      path=str(self.path), error=why)
        self._keep([i for i in batch if i.sql is not None and not i.must_commit and id(i) not in bad])
        for item in batch:
            if id(item) in bad and item.waiter is None:
                log.error("store statement failed; dropped", sql=item.sql, error=repr(bad[id(item)]))
        self._fail(batch, message, bad)
        self._arm_retry()

    @staticmethod
    def _fail(items: list[_Item], message: str, bad: dict[int, Exception] | None = None) -> None:
        """Every waiter in `items` learns its batch failed: commit()/sync() raise, flush() returns."""
        for item in items:
            if item.waiter is None or item.waiter.done():
                continue
            if not item.must_commit:
                item.waiter.set_result(None)  # flush(): the writes were tried
            elif bad and id(item) in bad:
                item.waiter.set_exception(bad[id(item)])
            else:
                item.waiter.set_exception(StorageError(message))

    @staticmethod
    def _settle(markers: list[_Item]) -> None:
        for item in markers:
            if item.waiter is not None and not item.waiter.done():
                item.waiter.set_result(None)

    def _keep(self, records: list[_Item]) -> None:
        room = MAX_KEPT - len(self._kept)
        if len(records) > room:
            self._dropped += len(records) - max(room, 0)
            records = records[:max(room, 0)]
        self._kept.extend(records)

    def _arm_retry(self) -> None:
        """One timer at a time, later each time, while records wait: they are stored even if
        nothing else is written once the disk has room again."""
        if self._kept and self._retry_timer is None and not self._closing:
            self._retry_timer = asyncio.get_running_loop().call_later(self._retry_delay, self._retry)
            self._retry_delay = min(self._retry_delay * 2, RETRY_MAX_S)

    def _retry(self) -> None:
        self._retry_timer = None
        self._retry_due = True
        self._wake.set()

    # ------------------------------------------------------------ reading

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        return await self._db.read(sql, tuple(params))

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Any:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    # ------------------------------------------------------------ closing

    async def close(self) -> None:
        """Commit everything queued (one last try for kept records), then close."""
        self._closing = True
        if self._retry_timer is not None:
            self._retry_timer.cancel()
            self._retry_timer = None
        if self._writer is not None:
            self._wake.set()
            try:
                await self._writer
            except Exception:
                pass
            self._writer = None
            self._closed = True
            late, self._pending = self._pending, []  # queued after the writer's last look
            self._dropped += sum(1 for i in late if i.sql is not None and not i.must_commit)
            for item in late:
                self._queue(item)  # now: refused, or settled
            try:
                await self._db.checked()  # deleted since the last batch: put it back before closing
            except Exception as e:
                log.error("could not check the database before closing", path=str(self.path), error=repr(e))
        if self._kept or self._dropped:
            log.error("records could not be stored before stopping", path=str(self.path),
                      lost=len(self._kept) + self._dropped, error=self._failing)
        self._closed = True
        await self._db.close()
        self._mark.close()
