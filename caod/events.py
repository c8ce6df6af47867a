"""The event bus: every status change and spawn becomes an Event.

Publishing numbers the event, keeps it in a small ring (so a new subscriber
can replay recent history with no gap), queues it for SQLite and calls each
subscriber at once. Subscribers must not block: they write to a socket buffer.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any, Callable

import msgspec

from caod.protocol import Event
from caod.status import EventKind, Signal, Status
from caod.store import Store

Subscriber = Callable[[Event], None]


class EventBus:
    def __init__(self, store: Store, ring: int = 1000):
        self._store = store
        self._ring: deque[Event] = deque(maxlen=ring)
        self._subscribers: dict[int, tuple[str | None, Subscriber]] = {}
        self._next_token = 0
        self.seq = 0

    async def load(self) -> None:
        row = await self._store.fetchone("SELECT COALESCE(MAX(seq), 0) FROM events")
        self.seq = int(row[0])

    def publish(
        self,
        kind: EventKind,
        agent: str,
        old: Status | None = None,
        new: Status | None = None,
        signal: Signal | None = None,
        detail: dict[str, Any] | None = None,
    ) -> Event:
        self.seq += 1
        event = Event(self.seq, time.time(), kind, agent, old, new, signal, detail or {})
        self._ring.append(event)
        self._store.write(
            "INSERT INTO events (seq, ts, kind, agent, old, new, signal, detail) VALUES (?,?,?,?,?,?,?,?)",
            (
                event.seq,
                event.ts,
                kind.value,
                agent,
                old.value if old else None,
                new.value if new else None,
                signal.value if signal else None,
                msgspec.json.encode(event.detail).decode(),
            ),
        )
        for wanted, fn in list(self._subscribers.values()):
            if wanted is None or wanted == agent:
                fn(event)
        return event

    def subscribe(self, fn: Subscriber, agent: str | None = None, replay: int = 0) -> int:
        """Replay up to `replay` recent events to `fn`, then send it live ones."""
        if replay > 0:
            recent = [e for e in self._ring if agent is None or e.agent == agent]
            for event in recent[-replay:]:
                fn(event)
        self._next_token += 1
        self._subscribers[self._next_token] = (agent, fn)
        return self._next_token

    def unsubscribe(self, token: int) -> None:
        self._subscribers.pop(token, None)

    async def history(self, agent: str | None, since: int, limit: int) -> list[Event]:
        await self._store.flush()
        sql = "SELECT seq, ts, kind, agent, old, new, signal, detail FROM events WHERE seq > ?"
        params: list[Any] = [since]
        if agent is not None:
            sql += " AND agent = ?"
            params.append(agent)
        # From the start: the newest `limit`; after `since`: the next `limit`,
        # so a client paging forward with `since` never skips one.
        sql += " ORDER BY seq ASC LIMIT ?" if since > 0 else " ORDER BY seq DESC LIMIT ?"
        params.append(limit)
        rows = await self._store.fetchall(sql, params)
        if since <= 0:
            rows.reverse()
        return [
            Event(
                seq=r[0],
                ts=r[1],
                kind=EventKind(r[2]),
                agent=r[3],
                old=Status(r[4]) if r[4] else None,
                new=Status(r[5]) if r[5] else None,
                signal=Signal(r[6]) if r[6] else None,
                detail=msgspec.json.decode(r[7]) if r[7] else {},
            )
            for r in rows
        ]
