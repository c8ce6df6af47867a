"""Processes an agent leaves running when it exits are ended with it.

A CLI's children do not always die with it: Gemini CLI's and Qwen Code's node helpers
and MCP servers can leave its process group or ignore the PTY's hang-up, and a tool the
agent started in the background keeps running. When an agent exits (by itself, killed,
or as the daemon stops), caod finds every process still carrying its `CAO_AGENT_ID` and
this daemon's socket (caod.leftovers) and ends it: SIGTERM, SIGKILL after a grace.

Exits close together are handled in one pass over /proc (in a thread, off the loop),
so a session of 200 agents ending costs one scan, not 200.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from caod import leftovers
from caod.logs import log


class StrayReaper:
    def __init__(self, socket: Path, grace: float):
        self._socket = socket
        self._grace = grace
        self._exited: set[str] = set()
        self._task: asyncio.Task | None = None

    def agent_exited(self, agent_id: str) -> None:
        self._exited.add(agent_id)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._reap())

    async def drain(self) -> None:
        """Wait until the processes of every agent that has exited so far are gone."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def _reap(self) -> None:
        # The task's first step runs after the callbacks already queued, so exits published
        # in the same loop pass join this scan; later ones join the next turn of the while.
        while self._exited:
            agents, self._exited = self._exited, set()
            try:
                found = await asyncio.to_thread(leftovers.find, agents, self._socket)
                if found:
                    ended = await leftovers.end(sorted(found), self._grace)
                    log.info("ended processes exited agents left running", agents=sorted(set(found.values())),
                             processes=ended)
            except Exception as e:  # never take the loop down; the next daemon's recovery retries
                log.error("could not end processes of exited agents", agents=sorted(agents), error=repr(e))
