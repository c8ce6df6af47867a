"""Every worker's result, stored in SQLite when its turn ends.

A worker (an agent with a parent: started by handoff or assign) has a turn
under way from the moment it is given its task (`expect`) and whenever it
turns processing or waiting_user_answer (a worker started again after a
restart has none until then); the turn ends when it turns completed,
error or exited. At that end its result (the extracted answer when it
completed, else what its screen says) is read at the transition itself,
committed to the `results` table, and only then are the callers waiting on it
told. All of it is driven by status events; nothing polls.

A handoff whose caller hung up before the worker answered (its CLI gave up on
the tool call) goes on without it: `deliver_late` posts the handoff's result
to the caller's inbox once it is there, so it is not lost.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from caod.logs import log
from caod.protocol import Event, HandoffResult
from caod.reasons import screen_tail
from caod.status import EventKind, Status

if TYPE_CHECKING:
    from caod.agent import Agent
    from caod.agents import AgentManager
    from caod.events import EventBus
    from caod.inbox import Inbox
    from caod.store import Store

TURN_ENDS = frozenset({Status.COMPLETED, Status.ERROR, Status.EXITED})
TURN_RUNS = frozenset({Status.PROCESSING, Status.WAITING})
END_GRACE_S = 3.0
LATE_PREFIX = "[caod result of handoff to {worker}]"
INSERT = "INSERT INTO results (agent, parent, ended, output, ended_at) VALUES (?,?,?,?,?)"
LATEST = "SELECT ended, output, ended_at FROM results WHERE agent = ? ORDER BY id DESC LIMIT 1"


@dataclass(frozen=True, slots=True)
class Outcome:
    """One ended turn of a worker."""

    agent: str
    parent: str
    ended: Status
    output: str | None
    ended_at: float


class Results:
    def __init__(self, store: "Store", bus: "EventBus", agents: "AgentManager", inbox: "Inbox"):
        self._store = store
        self._bus = bus
        self._agents = agents
        self._inbox = inbox
        self._parents: dict[str, str] = {}  # live workers -> the agent that started them
        self._running: set[str] = set()  # workers with a turn under way
        self._latest: dict[str, Outcome] = {}  # live workers' latest stored outcome
        self._storing: dict[str, asyncio.Task] = {}  # worker -> the commit of its newest outcome
        self._waiters: dict[str, list[asyncio.Future]] = defaultdict(list)
        self._end_after: set[str] = set()  # workers to stop once their turn has ended
        self._tasks: set[asyncio.Task] = set()

    def start(self) -> None:
        self._bus.subscribe(self._on_event)

    # ------------------------------------------------------------ recording

    def _on_event(self, event: Event) -> None:
        if event.kind is EventKind.SPAWNED:
            parent = (event.detail or {}).get("parent")
            if parent:
                self._parents[event.agent] = parent
            return
        if event.kind is not EventKind.STATUS or event.agent not in self._parents or event.new is None:
            return
        if event.new in TURN_RUNS:
            self._running.add(event.agent)
        elif event.new in TURN_ENDS and event.agent in self._running:
            self._running.discard(event.agent)
            self._record(self._outcome(event))
        if event.new is Status.EXITED:
            self._forget(event.agent)

    def _outcome(self, event: Event) -> Outcome:
        agent = self._agents.agents.get(event.agent)
        output: str | None = None
        if agent is not None:  # read now: later output may be drawn by the time we store it
            if event.new is Status.COMPLETED:
                output = agent.last_answer()
            else:
                output = (event.detail or {}).get("reason") or screen_tail(agent.screen) or None
        return Outcome(event.agent, self._parents[event.agent], event.new, output, event.ts)

    def _record(self, outcome: Outcome) -> None:
        previous = self._storing.get(outcome.agent)
        task = self._spawn(self._store_outcome(outcome, previous))
        self._storing[outcome.agent] = task

    async def _store_outcome(self, outcome: Outcome, previous: asyncio.Task | None) -> None:
        if previous is not None:  # one worker's outcomes are told in the order they came
            await asyncio.wait([previous])
        try:
            await self._store.commit(INSERT, (outcome.agent, outcome.parent, outcome.ended.value,
                                              outcome.output, outcome.ended_at))
        except Exception as e:  # still told from memory; the log says it was not stored
            log.error("a worker's result could not be stored", agent=outcome.agent, error=repr(e))
        if outcome.agent in self._parents:
            self._latest[outcome.agent] = outcome
        for waiter in self._waiters.pop(outcome.agent, []):
            if not waiter.done():
                waiter.set_result(outcome)
        if self._storing.get(outcome.agent) is asyncio.current_task():
            del self._storing[outcome.agent]
        if outcome.agent in self._end_after:
            agent = self._agents.agents.get(outcome.agent)
            if agent is not None and agent.status.live:
                await agent.terminate(END_GRACE_S)

    def _forget(self, agent_id: str) -> None:
        """A worker that exited is read from SQLite from now on."""
        self._parents.pop(agent_id, None)
        self._running.discard(agent_id)
        self._latest.pop(agent_id, None)
        self._end_after.discard(agent_id)
        for waiter in self._waiters.pop(agent_id, []):
            if not waiter.done():
                waiter.set_result(None)

    def _spawn(self, coro: Any) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def expect(self, worker: "Agent") -> None:
        """`worker` was just given its task: its result is to come."""
        if worker.parent and worker.status.live:
            self._parents[worker.id] = worker.parent
            self._running.add(worker.id)

    # ------------------------------------------------------------ reading

    def running(self, agent_id: str) -> bool:
        """Whether the worker has a turn under way (its result is still to come)."""
        return agent_id in self._running

    async def latest(self, agent_id: str, wait: bool = False, timeout: float = 0.0) -> Outcome | None:
        """The worker's latest outcome; with `wait`, the end of the turn under way
        (TimeoutError after `timeout` s). None when it has none."""
        if wait and agent_id in self._running:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters[agent_id].append(waiter)
            try:
                found = await asyncio.wait_for(asyncio.shield(waiter), timeout)
            finally:
                if not waiter.done():
                    waiter.cancel()
                    if waiter in self._waiters.get(agent_id, ()):
                        self._waiters[agent_id].remove(waiter)
            if found is not None:
                return found
        storing = self._storing.get(agent_id)
        if storing is not None:  # the newest is being committed: read it once it is
            await asyncio.wait([storing])
        if agent_id in self._latest:
            return self._latest[agent_id]
        row = await self._store.fetchone(LATEST, (agent_id,))
        if row is None:
            return None
        return Outcome(agent_id, "", Status(row[0]), row[1], row[2])

    async def first_lines(self, agent_ids: list[str]) -> dict[str, str]:
        """The first line of each worker's latest output, for a team list."""
        if not agent_ids:
            return {}
        await self._store.flush()
        marks = ",".join("?" * len(agent_ids))
        rows = await self._store.fetchall(
            f"SELECT agent, output FROM results WHERE id IN "
            f"(SELECT MAX(id) FROM results WHERE agent IN ({marks}) GROUP BY agent)", agent_ids)
        out = {agent: output for agent, output in rows}
        out.update({a: o.output for a, o in self._latest.items() if a in agent_ids})
        return {a: _first_line(o) for a, o in out.items() if _first_line(o)}

    # ------------------------------------------------------------ handoff support

    def end_after_turn(self, worker: "Agent") -> None:
        """Stop `worker` once its turn under way has ended and its result is stored."""
        if worker.id in self._running:
            self._end_after.add(worker.id)
        elif worker.status.live:
            self._spawn(worker.terminate(END_GRACE_S))

    def deliver_late(self, caller: "Agent", worker_id: str, work: "asyncio.Future[HandoffResult]") -> None:
        """The caller of a handoff hung up: post the handoff's result to its inbox when it comes."""
        def done(fut: asyncio.Future) -> None:
            if not fut.cancelled():
                self._spawn(self._post_late(caller, worker_id, fut))

        work.add_done_callback(done)

    async def _post_late(self, caller: "Agent", worker_id: str, work: asyncio.Future) -> None:
        error = work.exception()
        result = HandoffResult(False, None, worker_id, f"the handoff failed: {error}") if error else work.result()
        if not caller.status.live:
            log.warning("a late handoff result has nobody to go to", caller=caller.id, worker=worker_id)
            return
        try:
            await self._inbox.post(worker_id, caller, late_text(result))
        except Exception as e:
            log.error("a late handoff result could not be posted", caller=caller.id, worker=worker_id, error=repr(e))


def late_text(result: HandoffResult) -> str:
    """What the caller of an abandoned handoff reads in its inbox."""
    head = LATE_PREFIX.format(worker=result.agent_id)
    if result.waiting:
        return (f"{head} the worker is waiting for an answer: {result.question or '(no question drawn)'}. "
                f"Answer it with answer_user_prompt, then collect its result with get_result.")
    if result.success:
        return f"{head} {result.output or ''}"
    return f"{head} failed: {result.error}" + (f"\n{result.output}" if result.output else "")


def _first_line(text: str | None) -> str:
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()
    return ""
