"""Durable state in one SQLite database (aiosqlite, WAL mode).

Writes go through one writer task that commits them in batches: a status
storm costs one transaction, not one per change. `write()` returns a future
that resolves once the row is committed, for callers that must not return
before their data is durable.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Iterable

import aiosqlite

from caod.logs import log

SCHEMA_VERSION = 3
SCHEMA = """
CREATE TABLE IF NOT EXISTS agents (
    id TEXT PRIMARY KEY,
    name TEXT,
    provider TEXT NOT NULL,
    cwd TEXT NOT NULL,
    command TEXT NOT NULL,
    pid INTEGER,
    status TEXT NOT NULL,
    status_since REAL NOT NULL,
    created_at REAL NOT NULL,
    rows INTEGER NOT NULL,
    cols INTEGER NOT NULL,
    exit_code INTEGER,
    exit_signal INTEGER,
    transcript TEXT,
    session TEXT,
    profile TEXT,
    role TEXT,
    parent TEXT,
    spec TEXT,  -- JSON: how to launch it again after a daemon restart
    -- What stays queryable once it exits (caod.exited): why it holds its status, the
    -- last answer and the screen (at each completed turn and at exit), the scrollback.
    reason TEXT,
    last_answer TEXT,
    screen TEXT,
    history TEXT
);
CREATE TABLE IF NOT EXISTS sessions (
    name TEXT PRIMARY KEY,
    cwd TEXT NOT NULL,
    created_at REAL NOT NULL,
    ended_at REAL,
    supervisor TEXT,
    env TEXT  -- JSON: environment every agent of the session gets
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    sender TEXT NOT NULL,
    receiver TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,  -- pending | delivered | acknowledged
    created_at REAL NOT NULL,
    delivered_at REAL
);
CREATE INDEX IF NOT EXISTS messages_pending ON messages(receiver, status, id);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    kind TEXT NOT NULL,
    agent TEXT NOT NULL,
    old TEXT,
    new TEXT,
    signal TEXT,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS events_by_agent ON events(agent, seq);
"""


class Store:
    def __init__(self, path: Path):
        self.path = path
        self._db: aiosqlite.Connection | None = None
        self._pending: list[tuple[str, tuple, asyncio.Future]] = []
        self._wake = asyncio.Event()
        self._writer: asyncio.Task | None = None
        self._closing = False

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = await aiosqlite.connect(self.path)
        await self._db.execute("PRAGMA journal_mode=WAL")
        await self._db.execute("PRAGMA synchronous=NORMAL")
        await self._db.execute("PRAGMA busy_timeout=5000")
        version = (await (await self._db.execute("PRAGMA user_version")).fetchone())[0]
        await self._db.executescript(SCHEMA)
        if 0 < version < 2:  # v1 databases lack the orchestration columns
            for column in ("session", "profile", "role", "parent", "spec"):
                await self._db.execute(f"ALTER TABLE agents ADD COLUMN {column} TEXT")
        if 0 < version < 3:  # v2 databases lack what an exited agent is queried by
            for column in ("reason", "last_answer", "screen", "history"):
                await self._db.execute(f"ALTER TABLE agents ADD COLUMN {column} TEXT")
        await self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        await self._db.commit()
        self._writer = asyncio.create_task(self._write_loop(), name="store-writer")

    @property
    def db(self) -> aiosqlite.Connection:
        assert self._db is not None, "store is not open"
        return self._db

    def write(self, sql: str, params: tuple = ()) -> asyncio.Future:
        """Queue a write; the returned future resolves when it is committed."""
        fut = asyncio.get_running_loop().create_future()
        self._pending.append((sql, params, fut))
        self._wake.set()
        return fut

    async def flush(self) -> None:
        """Wait until every write queued so far is committed (writes are FIFO)."""
        await self.write("SELECT 1")

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, []
            if batch:
                await self._commit(batch)
            if self._closing and not self._pending:
                return

    async def _commit(self, batch: list[tuple[str, tuple, asyncio.Future]]) -> None:
        try:
            for sql, params, _ in batch:
                await self.db.execute(sql, params)
            await self.db.commit()
        except Exception as exc:  # report to every waiter; the writer keeps going
            log.error("store write failed", error=str(exc))
            await self.db.rollback()
            for *_, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)
            return
        for *_, fut in batch:
            if not fut.done():
                fut.set_result(None)

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        async with self.db.execute(sql, tuple(params)) as cur:
            return list(await cur.fetchall())

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Any:
        async with self.db.execute(sql, tuple(params)) as cur:
            return await cur.fetchone()

    async def close(self) -> None:
        """Commit everything queued, then close."""
        if self._db is None:
            return
        self._closing = True
        self._wake.set()
        if self._writer is not None:
            try:
                await self._writer
            except Exception:
                pass
        await self._db.close()
        self._db = None
