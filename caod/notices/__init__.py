"""Notices: what a supervisor must learn about its workers reaches its inbox by itself.

A subscriber of the event bus. For every worker (an agent with a `parent`), caod posts
a message to the parent's inbox (sender `caod`, delivered like any message, typed
as written) that starts with `[caod notice about worker <id> (<profile>)] `, once per
occurrence, the moment the status event is published:

- waiting: the worker shows a prompt (`waiting_user_answer`): the question as drawn,
  its numbered options, and how to answer (answer_user_prompt);
- error / exited: the worker is in error, or its process ended, while it owes its
  parent an answer (it took a message from it and has not called send_message back);
- unreported: the worker ended the turn its parent's message started without calling
  send_message back: caod forwards its answer as drawn;
- stalled: the worker is busy with no output for its provider's stall time (the
  `stalled` event is published for every agent; caod.notices.stall).
- restarted: after a daemon restart the worker was started again while it owed its parent
  a report and has no message from it left to take (the turn it was on is lost). Who owes
  a report is kept in SQLite (caod.notices.owed), so the other notices hold across restarts.

The rule with `handoff`: a handoff types its task straight in (no inbox message), and
returns the worker's answer, error or exit itself. While a handoff call waits on a
worker (`handoff_waiting` .. `handoff_returned`), that worker's prompts, errors and
exits are left to the handoff's result; its stalls are still noticed (a handoff does
not return on one). After the handoff returned, a new prompt is noticed.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import TYPE_CHECKING, Any

from caod.inbox import CAOD
from caod.logs import log
from caod.notices import texts
from caod.notices.owed import OwedReports
from caod.notices.stall import StallWatch
from caod.protocol import Event
from caod.reasons import screen_tail
from caod.status import EventKind, Signal, Status

if TYPE_CHECKING:
    from caod.agent import Agent

__all__ = ["Notices", "PREFIX"]
PREFIX = texts.PREFIX


class Notices:
    def __init__(self, daemon):
        self._d = daemon
        self.owed = OwedReports(daemon.store)  # who owes its parent a report; kept across restarts
        self._awaited: Counter[str] = Counter()  # workers a handoff call waits on
        self._expected: set[str] = set()  # agents caod stops on purpose (expect_exit)
        self._posting: set[asyncio.Task] = set()
        self._stopped = False
        self.stall = StallWatch(self._stalled)
        daemon.bus.subscribe(self._on_event)

    # ------------------------------------------------------------ the orchestrator's part

    def handoff_waiting(self, worker_id: str) -> None:
        """A handoff call waits on this worker: it will return what happens to it."""
        self._awaited[worker_id] += 1

    def handoff_returned(self, worker_id: str) -> None:
        self._awaited[worker_id] -= 1
        if self._awaited[worker_id] <= 0:
            del self._awaited[worker_id]

    def expect_exit(self, agent_ids) -> None:
        """caod stops these agents on purpose (their session ends; a parent ends its worker):
        their exits are no news to anyone."""
        for agent_id in agent_ids:
            self._expected.add(agent_id)

    def stop(self) -> None:
        """The daemon is stopping: its agents' exits are nobody's news."""
        self._stopped = True
        self.stall.stop()

    async def load(self) -> None:
        await self.owed.load()

    async def relaunched(self) -> None:
        """After a daemon restart, the relaunched workers are running again. One that owed its
        parent a report and has no message from it left to take lost the turn it was on:
        its parent is told (a task still pending is typed again and reported as usual)."""
        for worker_id in sorted(self.owed.owing()):
            worker = self._d.agents.agents.get(worker_id)
            if worker is None or not worker.status.live:
                self.owed.forget(worker_id)  # its session ended with the daemon
                continue
            row = await self._d.store.fetchone(
                "SELECT COUNT(*) FROM messages WHERE receiver = ? AND sender = ? AND status = 'pending'",
                (worker.id, worker.parent))
            if not row[0]:
                self._post(worker, "restarted", texts.restarted(worker))

    # ------------------------------------------------------------ events

    def _on_event(self, event: Event) -> None:
        try:
            if event.kind is EventKind.STATUS and event.new is not None:
                self._on_status(event)
            elif event.kind is EventKind.MESSAGE:
                self._on_message(event)
        except Exception as e:  # a subscriber must never raise into the agent that published
            log.error("notice failed", agent=event.agent, error=repr(e))

    def _on_message(self, event: Event) -> None:
        sender, state = event.detail.get("from"), event.detail.get("state")
        receiver = self._d.agents.agents.get(event.agent)
        if state == "queued":
            if receiver is not None and receiver.parent is not None and receiver.parent == sender:
                self.owed.owe(receiver.id)  # a task, or a follow-up, from its parent
            worker = self._d.agents.agents.get(sender) if isinstance(sender, str) else None
            if worker is not None and worker.parent == event.agent:
                self.owed.settle(worker.id)  # it reported back
        elif state == "delivered" and isinstance(sender, str):
            self.owed.took_from(event.agent, sender)

    def _on_status(self, event: Event) -> None:
        agent = self._d.agents.agents.get(event.agent)
        if agent is None or self._stopped:  # marked exited at a restart, or the daemon stops: no news
            return
        self.stall.on_status(agent, event.new)  # type: ignore[arg-type]
        if agent.parent is None:
            return
        new, awaited = event.new, self._awaited.get(agent.id, 0) > 0
        owes = self.owed.owes(agent.id)
        detail = event.detail
        if new is Status.WAITING and not awaited:
            self._post(agent, "waiting", texts.waiting(agent, detail.get("question") or screen_tail(agent.screen)))
        elif new is Status.ERROR and owes and not awaited and event.signal is not Signal.PROCESS:
            # (an error with the process's own signal is its death while starting: the exit,
            # published next with the same reason, is the one notice)
            self._post(agent, "error", texts.error(agent, detail.get("reason") or screen_tail(agent.screen)))
        elif new is Status.EXITED and owes and not awaited and agent.id not in self._expected:
            self._post(agent, "exited", texts.exited(agent, detail.get("reason") or screen_tail(agent.screen)))
        elif new is Status.COMPLETED and owes and not awaited and self.owed.turn_from(agent.id) == agent.parent:
            self.owed.settle(agent.id)  # caod reports for it, once
            self._post(agent, "unreported", texts.unreported(agent, agent.last_answer()))
        self._forget(event)

    def _forget(self, event: Event) -> None:
        if event.new is Status.EXITED:
            self.owed.forget(event.agent)
            self._expected.discard(event.agent)

    def _stalled(self, agent: "Agent", seconds: float) -> None:
        tail = screen_tail(agent.screen)
        self._d.bus.publish(EventKind.STALLED, agent.id, detail={"after_s": seconds, "screen": tail})
        if agent.parent is not None and not self._stopped:
            self._post(agent, "stalled", texts.stalled(agent, seconds, tail))

    # ------------------------------------------------------------ posting

    def _post(self, worker: "Agent", kind: str, body: str) -> None:
        parent = self._d.agents.agents.get(worker.parent)
        if parent is None or not parent.status.live:
            log.info("notice dropped: the parent has exited", worker=worker.id, parent=worker.parent, notice=kind)
            return
        note: dict[str, Any] = {"notice": kind, "worker": worker.id}
        task = asyncio.get_running_loop().create_task(self._d.inbox.post(CAOD, parent, body, note=note))
        self._posting.add(task)
        task.add_done_callback(lambda t: self._posted(t, worker.id, parent.id, kind))

    def _posted(self, task: asyncio.Task, worker: str, parent: str, kind: str) -> None:
        self._posting.discard(task)
        if task.cancelled():
            return
        if task.exception() is not None:  # StorageError: the notice is lost, say so
            log.error("notice not stored", worker=worker, parent=parent, notice=kind, error=str(task.exception()))
        else:
            log.info("notice sent", worker=worker, parent=parent, notice=kind, message=task.result().id)
