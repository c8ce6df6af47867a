"""One turn with an agent: wait until it takes input, type, wait for the end.

Shared by agent.send, session.send and handoff, so "a turn" means the same
thing everywhere. Everything waits on status events, never on a timer loop.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from caod.agent import Agent, AgentBusy, AgentGone
from caod.status import TURN_OVER, Signal, Status

# What a starting agent may turn into before we can type into it.
SETTLED = frozenset({Status.IDLE, Status.COMPLETED, Status.WAITING, Status.ERROR, Status.EXITED})


class NotReady(Exception):
    """The agent did not finish starting in time."""


class NotStarted(Exception):
    """The agent stopped while starting: at a question caod cannot answer (a login, an
    API key) or at an error. A task typed now would go into that dialog."""

    def __init__(self, agent: Agent):
        self.status = agent.status
        self.reason = agent.reason
        what = "is waiting for an answer" if agent.status is Status.WAITING else "failed to start"
        super().__init__(f"agent {agent.id} {what}" + (f": {agent.reason}" if agent.reason else ""))


@dataclass
class Turn:
    ended: Status  # how the turn ended; IDLE means the input was never taken
    answer: str | None  # the answer as drawn at the moment the turn completed


async def wait_settled(agent: Agent, timeout: float) -> Status:
    """Wait until a starting agent takes input. Raises NotReady (timeout) or
    NotStarted (it stopped at a start-up dialog or an error instead)."""
    if agent.status is not Status.STARTING:
        return agent.status
    try:
        settled = await agent.wait_status(set(SETTLED), timeout)
    except TimeoutError:
        raise NotReady(f"agent {agent.id} did not become ready within {timeout:g}s") from None
    if settled in (Status.WAITING, Status.ERROR):
        raise NotStarted(agent)
    return settled


def start_turn(agent: Agent, text: str, end_on: frozenset[Status] = TURN_OVER) -> asyncio.Future:
    """Deliver `text` now; the future resolves to a Turn when it is over.

    The caller holds `agent.input_lock`. Raises AgentBusy/AgentGone.
    """
    captured: list[Turn] = []

    def over(_old: Status, new: Status, sig: Signal) -> bool:
        if new in end_on or new is Status.EXITED or sig is Signal.TIMEOUT:
            # Read the answer at the transition itself: by the time the
            # waiter resumes, later output (a goodbye line) may be drawn.
            captured.append(Turn(new, agent.last_answer() if new is Status.COMPLETED else None))
            return True
        return False

    watch = agent.watch(over)
    try:
        agent.deliver(text)
    except (AgentBusy, AgentGone, ProcessLookupError):
        watch.cancel()
        raise
    loop = asyncio.get_running_loop()
    result: asyncio.Future = loop.create_future()

    def done(fut: asyncio.Future) -> None:
        if result.done():
            return
        if fut.cancelled():
            result.cancel()
        elif fut.exception() is not None:
            result.set_exception(fut.exception())  # type: ignore[arg-type]
        else:
            result.set_result(captured[0])

    watch.add_done_callback(done)
    result.add_done_callback(lambda r: watch.cancel() if r.cancelled() else None)
    return result


async def run_turn(agent: Agent, text: str, timeout: float, end_on: frozenset[Status] = TURN_OVER) -> Turn:
    """Wait for readiness, deliver, and wait for the turn's end (TimeoutError on timeout)."""
    await wait_settled(agent, timeout)
    async with agent.input_lock:
        if agent.status is Status.EXITED:
            raise AgentGone(agent.id)
        if not agent.takes_input:
            raise AgentBusy(agent.id)
        pending = start_turn(agent, text, end_on)
    return await asyncio.wait_for(pending, timeout)
