"""The durable inbox: messages between agents, delivered when the receiver is ready.

A message is committed to SQLite before `post` returns. Delivery is driven by
status events: the moment a receiver turns idle or completed, its oldest
pending message is typed into it (a person's message also when it shows an
error screen, which typing gets it past). One delivery per receiver at a time (a
flag plus the agent's input lock), first in first out, each message once:
it is marked delivered in SQLite before its text reaches the PTY.

A caller may follow a message (`post(..., turn=future)`): the future gets the
Turn that took it (caod.turns), so `session send` can wait for the answer to
its own message however long the receiver is busy first.
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
from caod.turns import Turn, start_turn

if TYPE_CHECKING:
    from caod.agent import Agent
    from caod.agents import AgentManager
    from caod.events import EventBus

USER = "user"  # the sender of messages typed by a person
CAOD = "caod"  # the sender of caod's own notices (caod.notices): typed as written, like a person's


class NotTaken(Exception):
    """The receiver exited with the message still queued (it stays in its inbox)."""

    def __init__(self, message_id: int):
        super().__init__(f"message {message_id} was not taken")
        self.message_id = message_id

# Statuses that show a receiver took the text typed into it (its turn started).
TAKEN = frozenset({Status.PROCESSING, Status.WAITING, Status.COMPLETED})


class Inbox:
    def __init__(self, store: Store, bus: "EventBus", agents: "AgentManager"):
        self._store = store
        self._bus = bus
        self._agents = agents
        self._pending: dict[str, deque[MessageInfo]] = defaultdict(deque)
        self._busy: set[str] = set()  # receivers with a delivery under way
        self._unacked: dict[str, int] = {}  # receiver -> message id awaiting the turn's end
        self._taken: set[int] = set()  # of those, the ids whose turn has started
        self._followed: dict[int, tuple[str, asyncio.Future]] = {}  # message id -> (receiver, its Turn)
        self._next_id = 0

    async def load(self) -> None:
        # Typed into a receiver that died with the daemon before its turn with it
        # started (a paste cut by a kill -9, a stopped CLI): deliver it again.
        retyped = await self._store.fetchone(
            "SELECT COUNT(*) FROM messages WHERE status = 'delivered' AND taken_at IS NULL")
        if retyped[0]:
            await self._store.commit(
                "UPDATE messages SET status='pending', delivered_at=NULL WHERE status='delivered' AND taken_at IS NULL")
            log.warning("messages typed but never taken before the restart are pending again", count=retyped[0])
        row = await self._store.fetchone("SELECT COALESCE(MAX(id), 0) FROM messages")
        self._next_id = int(row[0])
        rows = await self._store.fetchall(
            "SELECT id, sender, receiver, body, created_at FROM messages WHERE status = 'pending' ORDER BY id"
        )
        for mid, sender, receiver, body, created in rows:
            self._pending[receiver].append(MessageInfo(mid, sender, receiver, "pending", created, body=body))
        self._bus.subscribe(self._on_event)

    async def post(self, sender: str, receiver: "Agent", body: str,
                   turn: asyncio.Future | None = None, note: dict | None = None) -> MessageInfo:
        """Store a message (committed before this returns) and deliver it when possible.

        Raises StorageError if it cannot be stored: then it is not queued either.
        `turn`, if given, gets the Turn that takes the message (Turn(EXITED) if the
        receiver exits first); drop it with `unfollow` when no longer wanted.
        `note` is added to the `queued` event's detail (what a notice is about, for watchers).
        """
        self._next_id += 1
        msg = MessageInfo(self._next_id, sender, receiver.id, "pending", time.time(), body=body)
        # Shielded: a caller cancelled (its client hung up) must not leave the
        # message committed but never queued for delivery. A failure then has
        # nobody to go to, and is marked seen.
        posting = asyncio.ensure_future(self._store_and_queue(msg, receiver, turn, note))
        posting.add_done_callback(lambda t: t.cancelled() or t.exception())
        return await asyncio.shield(posting)

    async def _store_and_queue(self, msg: MessageInfo, receiver: "Agent",
                               turn: asyncio.Future | None, note: dict | None) -> MessageInfo:
        await self._store.commit(
            "INSERT INTO messages (id, sender, receiver, body, status, created_at) VALUES (?,?,?,?,?,?)",
            (msg.id, msg.sender, receiver.id, msg.body, "pending", msg.created_at),
        )
        self._pending[receiver.id].append(msg)
        if turn is not None:
            self._followed[msg.id] = (receiver.id, turn)
        self._bus.publish(EventKind.MESSAGE, receiver.id,
                          detail={"id": msg.id, "from": msg.sender, "state": "queued", **(note or {})})
        self.kick(receiver)
        return msg

    def depth(self, agent_id: str) -> int:
        return len(self._pending.get(agent_id, ()))

    def is_pending(self, message_id: int, agent_id: str) -> bool:
        return any(m.id == message_id for m in self._pending.get(agent_id, ()))

    def unfollow(self, message_id: int) -> None:
        self._followed.pop(message_id, None)

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
        mid = self._unacked.get(event.agent)
        if mid is not None and event.new in TAKEN:
            if mid not in self._taken:
                self._taken.add(mid)
                self._store.write("UPDATE messages SET taken_at=? WHERE id=?", (event.ts, mid))
            if event.new is Status.COMPLETED:
                del self._unacked[event.agent]
                self._taken.discard(mid)
                self._store.write("UPDATE messages SET status='acknowledged' WHERE id=?", (mid,))
        if event.new is Status.EXITED:
            waiting = {m.id for m in self._pending.get(event.agent, ())}
            for fid, (receiver, turn) in list(self._followed.items()):
                if receiver == event.agent and not turn.done():
                    if fid in waiting:  # nothing queued for it will be taken now
                        turn.set_exception(NotTaken(fid))
                    else:
                        turn.set_result(Turn(Status.EXITED, None))
            # What is pending stays so in SQLite, for a relaunch; memory lets it go.
            self._pending.pop(event.agent, None)
            if self._unacked.pop(event.agent, None) is not None:
                self._taken.discard(mid)
            return
        if (event.new.ready or event.new is Status.ERROR) and self._pending.get(event.agent):
            agent = self._agents.agents.get(event.agent)
            if agent is not None:
                self.kick(agent)

    def kick(self, agent: "Agent") -> None:
        """Start delivering to `agent` if it is ready and nothing else is under way."""
        if agent.id in self._busy or not self._pending.get(agent.id):
            return
        if not _takes(agent, self._pending[agent.id][0]):
            return
        self._busy.add(agent.id)
        asyncio.get_running_loop().create_task(self._deliver_one(agent))

    async def _deliver_one(self, agent: "Agent") -> None:
        try:
            async with agent.input_lock:
                queue = self._pending.get(agent.id)
                if not queue or not _takes(agent, queue[0]):
                    return
                msg = queue[0]
                now = time.time()
                await self._store.commit(
                    "UPDATE messages SET status='delivered', delivered_at=? WHERE id=?", (now, msg.id)
                )
                queue.popleft()
                if not _takes(agent, msg):  # it moved while we committed
                    queue.appendleft(msg)
                    self._store.write("UPDATE messages SET status='pending', delivered_at=NULL WHERE id=?", (msg.id,))
                    return
                self._type(agent, msg)
                self._unacked[agent.id] = msg.id
                self._bus.publish(EventKind.MESSAGE, agent.id, detail={"id": msg.id, "from": msg.sender, "state": "delivered"})
        except Exception as e:  # the message stays pending; the next ready event retries
            log.error("message delivery failed", agent=agent.id, error=repr(e))
        finally:
            self._busy.discard(agent.id)

    def _type(self, agent: "Agent", msg: MessageInfo) -> None:
        """Type the message in; a follower of it gets the turn it starts."""
        text = format_message(msg.sender, msg.body)
        followed = self._followed.pop(msg.id, None)
        if followed is None or followed[1].done():
            agent.deliver(text)
            return
        follower = followed[1]
        try:
            turn = start_turn(agent, text)
        except Exception as e:
            follower.set_exception(e)
            raise

        def over(fut: asyncio.Future) -> None:
            if follower.done():
                return
            if fut.cancelled():
                follower.cancel()
            elif fut.exception() is not None:
                follower.set_exception(fut.exception())  # type: ignore[arg-type]
            else:
                follower.set_result(fut.result())

        turn.add_done_callback(over)
        follower.add_done_callback(lambda f: turn.cancel() if f.cancelled() else None)


def _takes(agent: "Agent", msg: MessageInfo) -> bool:
    """Whether `agent` takes `msg` now: when ready; a person's message also at an error
    screen, where typing is how one gets a CLI past it (as `caoctl send` does)."""
    if not agent.takes_input:
        return False
    return agent.status.ready or (agent.status is Status.ERROR and msg.sender == USER)


def format_message(sender: str, body: str) -> str:
    """What the receiver sees: an agent's message starts with the sender's id,
    so it knows whom to answer; a person's text is passed as typed, and so is a notice
    from caod (it carries its own prefix, which no agent's message can start with)."""
    return body if sender in (USER, CAOD) else f"[message from {sender}] {body}"
