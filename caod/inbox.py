"""The durable inbox: messages between agents, delivered when the receiver is ready.

A message is committed to SQLite before `post` returns. Delivery is driven by
status events: the moment a receiver turns idle or completed, its oldest
pending message is typed into it. One delivery per receiver at a time (a
flag plus the agent's input lock), first in first out, each message once:
it is marked delivered in SQLite before its text reaches the PTY.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict, deque
from typing import TYPE_CHECKING

from caod.logs import log
from caod.protocol import Event, MessageInfo
from caod.status import EventKind, Status
from caod.store import Store

if TYPE_CHECKING:
    from caod.agent import Agent
    from caod.agents import AgentManager
    from caod.events import EventBus

USER = "user"  # the sender of messages typed by a person


class Inbox:
    def __init__(self, store: Store, bus: "EventBus", agents: "AgentManager"):
        self._store = store
        self._bus = bus
        self._agents = agents
        self._pending: dict[str, deque[MessageInfo]] = defaultdict(deque)
        self._busy: set[str] = set()  # receivers with a delivery under way
        self._unacked: dict[str, int] = {}  # receiver -> message id awaiting the turn's end
        self._next_id = 0

    async def load(self) -> None:
        row = await self._store.fetchone("SELECT COALESCE(MAX(id), 0) FROM messages")
        self._next_id = int(row[0])
        rows = await self._store.fetchall(
            "SELECT id, sender, receiver, body, created_at FROM messages WHERE status = 'pending' ORDER BY id"
        )
        for mid, sender, receiver, body, created in rows:
            self._pending[receiver].append(MessageInfo(mid, sender, receiver, "pending", created, body=body))
        self._bus.subscribe(self._on_event)

    async def post(self, sender: str, receiver: "Agent", body: str) -> MessageInfo:
        """Store a message (committed before this returns) and deliver it when possible."""
        # Shielded: a caller cancelled (its client hung up) must not leave the
        # message committed but never queued for delivery. A failure then has
        # nobody to go to, and is marked seen.
        posting = asyncio.ensure_future(self._post(sender, receiver, body))
        posting.add_done_callback(lambda t: t.cancelled() or t.exception())
        return await asyncio.shield(posting)

    async def _post(self, sender: str, receiver: "Agent", body: str) -> MessageInfo:
        self._next_id += 1
        msg = MessageInfo(self._next_id, sender, receiver.id, "pending", time.time(), body=body)
        await self._store.write(
            "INSERT INTO messages (id, sender, receiver, body, status, created_at) VALUES (?,?,?,?,?,?)",
            (msg.id, sender, receiver.id, body, "pending", msg.created_at),
        )
        self._pending[receiver.id].append(msg)
        self._bus.publish(EventKind.MESSAGE, receiver.id, detail={"id": msg.id, "from": sender, "state": "queued"})
        self.kick(receiver)
        return msg

    def depth(self, agent_id: str) -> int:
        return len(self._pending.get(agent_id, ()))

    async def list(self, agent: str | None, pending_only: bool, limit: int) -> list[MessageInfo]:
        await self._store.flush()
        sql = "SELECT id, sender, receiver, body, status, created_at, delivered_at FROM messages WHERE 1=1"
        params: list = []
        if agent:
            sql += " AND receiver = ?"
            params.append(agent)
        if pending_only:
            sql += " AND status = 'pending'"
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(limit)
        rows = await self._store.fetchall(sql, params)
        return [MessageInfo(r[0], r[1], r[2], r[4], r[5], r[6], body=r[3]) for r in reversed(rows)]

    # ------------------------------------------------------------ delivery

    def _on_event(self, event: Event) -> None:
        if event.kind is not EventKind.STATUS or event.new is None:
            return
        if event.new is Status.COMPLETED and event.agent in self._unacked:
            mid = self._unacked.pop(event.agent)
            self._store.write("UPDATE messages SET status='acknowledged' WHERE id=?", (mid,))
        if event.new.ready and self._pending.get(event.agent):
            agent = self._agents.agents.get(event.agent)
            if agent is not None:
                self.kick(agent)

    def kick(self, agent: "Agent") -> None:
        """Start delivering to `agent` if it is ready and nothing else is under way."""
        if agent.id in self._busy or not self._pending.get(agent.id):
            return
        if not agent.status.ready or not agent.takes_input:
            return
        self._busy.add(agent.id)
        asyncio.get_running_loop().create_task(self._deliver_one(agent))

    async def _deliver_one(self, agent: "Agent") -> None:
        try:
            async with agent.input_lock:
                queue = self._pending.get(agent.id)
                if not queue or not agent.status.ready or not agent.takes_input:
                    return
                msg = queue[0]
                now = time.time()
                await self._store.write(
                    "UPDATE messages SET status='delivered', delivered_at=? WHERE id=?", (now, msg.id)
                )
                queue.popleft()
                if not agent.status.ready or not agent.takes_input:  # it moved while we committed
                    queue.appendleft(msg)
                    self._store.write("UPDATE messages SET status='pending', delivered_at=NULL WHERE id=?", (msg.id,))
                    return
                agent.deliver(format_message(msg.sender, msg.body))
                self._unacked[agent.id] = msg.id
                self._bus.publish(EventKind.MESSAGE, agent.id, detail={"id": msg.id, "from": msg.sender, "state": "delivered"})
        except Exception as e:  # the message stays pending; the next ready event retries
            log.error("message delivery failed", agent=agent.id, error=repr(e))
        finally:
            self._busy.discard(agent.id)


def format_message(sender: str, body: str) -> str:
    """What the receiver sees: an agent's message starts with the sender's id,
    so it knows whom to answer; a person's text is passed as typed."""
    return body if sender == USER else f"[message from {sender}] {body}"
