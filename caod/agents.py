"""The set of agents this daemon runs: spawn, look up, stop, recover."""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from pathlib import Path

import providers
from caod.agent import Agent
from caod.events import EventBus
from caod.protocol import ErrorCode, SpawnParams
from caod.rpc import RpcError
from caod.status import EventKind, Signal, Status
from caod.store import Store

MAX_ROWS, MAX_COLS = 500, 1000


class AgentManager:
    def __init__(self, home: Path, socket_path: Path, bus: EventBus, store: Store):
        self._home = home
        self._socket = socket_path
        self._bus = bus
        self._store = store
        self.agents: dict[str, Agent] = {}

    def resolve(self, ref: str) -> Agent:
        """An agent by id, by name (live agents first), or by a unique id prefix."""
        if ref in self.agents:
            return self.agents[ref]
        named = [a for a in self.agents.values() if a.name == ref]
        if named:
            live = [a for a in named if a.status.live]
            return (live or named)[-1]
        prefixed = [a for a in self.agents.values() if a.id.startswith(ref)] if len(ref) >= 4 else []
        if len(prefixed) == 1:
            return prefixed[0]
        raise RpcError(ErrorCode.NO_SUCH_AGENT, f"no such agent: {ref}")

    def spawn(self, p: SpawnParams) -> Agent:
        try:
            provider = providers.get(p.provider)
        except providers.UnknownProvider as e:
            raise RpcError(ErrorCode.NO_SUCH_PROVIDER, str(e)) from None
        cwd = os.path.abspath(os.path.expanduser(p.cwd or os.getcwd()))
        if not os.path.isdir(cwd):
            raise RpcError(ErrorCode.INVALID_PARAMS, f"working directory does not exist: {cwd}")
        if not (1 <= p.rows <= MAX_ROWS and 1 <= p.cols <= MAX_COLS):
            raise RpcError(ErrorCode.INVALID_PARAMS, f"size must be within 1..{MAX_ROWS} rows, 1..{MAX_COLS} cols")
        if p.name is not None:
            if not p.name or p.name.strip() != p.name or len(p.name) > 64:
                raise RpcError(ErrorCode.INVALID_PARAMS, "name must be 1-64 characters without surrounding spaces")
            if any(a.name == p.name and a.status.live for a in self.agents.values()):
                raise RpcError(ErrorCode.NAME_TAKEN, f"a live agent is already named {p.name!r}")
        for key in p.env:
            if not key or "=" in key or "\0" in key:
                raise RpcError(ErrorCode.INVALID_PARAMS, f"bad environment variable name: {key!r}")
        agent_id = secrets.token_hex(4)
        while agent_id in self.agents:
            agent_id = secrets.token_hex(4)
        env = dict(os.environ)
        env.update(provider.spec.env)
        env.update(p.env)
        env.update(
            {
                "TERM": env.get("CAOD_AGENT_TERM", "xterm-256color"),
                "CAO_AGENT_ID": agent_id,
                "CAOD_SOCKET": str(self._socket),
            }
        )
        agent = Agent(
            agent_id=agent_id,
            name=p.name,
            provider=provider,
            cwd=cwd,
            env=env,
            command=[*provider.spec.command, *p.args],
            rows=p.rows,
            cols=p.cols,
            transcript=self._home / "transcripts" / f"{agent_id}.log",
            bus=self._bus,
            store=self._store,
        )
        try:
            agent.start()
        except (OSError, ValueError) as e:
            agent.transcript.close()
            raise RpcError(ErrorCode.SPAWN_FAILED, f"cannot start {provider.name}: {e}") from None
        self.agents[agent_id] = agent
        return agent

    async def stop_all(self, grace: float) -> None:
        live = [a for a in self.agents.values() if a.status.live]
        await asyncio.gather(*(a.terminate(grace) for a in live), return_exceptions=True)

    async def recover(self) -> int:
        """Mark agents a previous daemon left running: their PTYs died with it."""
        rows = await self._store.fetchall("SELECT id, status FROM agents WHERE status != ?", (Status.EXITED.value,))
        now = time.time()
        for agent_id, status in rows:
            self._store.write("UPDATE agents SET status=?, status_since=? WHERE id=?", (Status.EXITED.value, now, agent_id))
            self._bus.publish(
                EventKind.STATUS, agent_id, Status(status), Status.EXITED, Signal.RECOVERY,
                {"reason": "the daemon that ran this agent stopped"},
            )
        await self._store.flush()
        return len(rows)
