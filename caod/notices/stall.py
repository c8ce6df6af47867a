"""Stalls: an agent busy (`processing`) with no output at all for its stall time.

One one-shot timer per busy agent, armed when it turns busy and re-armed by each
output (a callback in the agent's `viewers.listeners`, so the agent's own output
path is not touched); it is cancelled when the agent stops being busy. When it
fires, the agent is stalled: told once, and again only after output resumed and
stopped once more. Never a poll.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Callable

from caod.status import Status

if TYPE_CHECKING:
    from caod.agent import Agent

DEFAULT_STALL_S = 180.0  # caod --stall-after; a provider's stall_ms wins


class StallWatch:
    def __init__(self, on_stall: Callable[["Agent", float], None]):
        self.default_s: float | None = DEFAULT_STALL_S
        self._on_stall = on_stall
        self._timers: dict[str, asyncio.TimerHandle] = {}  # busy agents not (yet) stalled
        self._busy: dict[str, Agent] = {}  # agents that are `processing` now
        self._listening: set[str] = set()  # agents whose output calls us

    def stall_s(self, agent: "Agent") -> float | None:
        ms = agent.provider.spec.stall_ms
        if ms is None:
            return self.default_s
        return ms / 1000 if ms > 0 else None

    def on_status(self, agent: "Agent", new: Status) -> None:
        if new is Status.PROCESSING:
            if agent.id not in self._listening:
                self._listening.add(agent.id)
                agent.viewers.listeners.append(lambda: self._output(agent))
            self._busy[agent.id] = agent
            self._arm(agent)
            return
        self._busy.pop(agent.id, None)
        self._cancel(agent.id)
        if new is Status.EXITED:
            self._listening.discard(agent.id)

    def stop(self) -> None:
        for agent_id in list(self._timers):
            self._cancel(agent_id)
        self._busy.clear()

    def _output(self, agent: "Agent") -> None:
        if agent.id in self._busy:
            self._arm(agent)  # also after a stall: output means it moved again

    def _arm(self, agent: "Agent") -> None:
        self._cancel(agent.id)
        seconds = self.stall_s(agent)
        if seconds is not None:
            self._timers[agent.id] = asyncio.get_running_loop().call_later(seconds, self._fire, agent, seconds)

    def _cancel(self, agent_id: str) -> None:
        timer = self._timers.pop(agent_id, None)
        if timer is not None:
            timer.cancel()

    def _fire(self, agent: "Agent", seconds: float) -> None:
        self._timers.pop(agent.id, None)  # not re-armed until output comes
        if self._busy.get(agent.id) is agent and agent.status is Status.PROCESSING:
            self._on_stall(agent, seconds)
