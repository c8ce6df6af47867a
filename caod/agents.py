"""The set of agents this daemon runs: spawn, look up, authenticate, stop, recover."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

import msgspec

import providers
from caod import leftovers
from caod.agent import Agent
from caod.events import EventBus
from caod.launching import Launch, prepare_launch, working_directory
from caod.logs import log
from caod.names import check_name
from caod.protocol import ErrorCode, SpawnParams
from caod.provider_checks import find_command, not_found
from caod.rpc import RpcError
from caod.status import EventKind, Signal, Status
from caod.store import Store

MAX_ROWS, MAX_COLS = 500, 1000
LEFTOVER_GRACE_S = 3.0  # SIGTERM -> SIGKILL for processes a dead daemon's agents left behind


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AgentManager:
    def __init__(self, home: Path, socket_path: Path, bus: EventBus, store: Store):
        self._home = home
        self._socket = socket_path
        self._bus = bus
        self._store = store
        self.agents: dict[str, Agent] = {}
        self._by_token: dict[str, Agent] = {}

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

    def authenticate(self, token: str) -> Agent:
        """The live agent holding `token`; anything else is refused."""
        agent = self._by_token.get(hash_token(token)) if token else None
        if agent is None or not agent.status.live:
            raise RpcError(ErrorCode.PERMISSION_DENIED, "permission denied: unknown or stale agent token")
        return agent

    def spawn(self, p: SpawnParams, launch: Launch | None = None, agent_id: str | None = None,
              session_id: str | None = None, history: bool = False) -> Agent:
        """Start an agent. `session_id` resumes that CLI conversation (after a restart);
        `history`: it had turns, which the resumed CLI draws."""
        try:
            provider = providers.get(p.provider)
        except (providers.UnknownProvider, providers.BadProvider) as e:
            raise RpcError(ErrorCode.NO_SUCH_PROVIDER, str(e)) from None
        cwd = working_directory(p.cwd, os.getcwd())
        if not (1 <= p.rows <= MAX_ROWS and 1 <= p.cols <= MAX_COLS):
            raise RpcError(ErrorCode.INVALID_PARAMS, f"size must be within 1..{MAX_ROWS} rows, 1..{MAX_COLS} cols")
        if p.name is not None:
            check_name("agent", p.name)
            if any(a.name == p.name and a.status.live for a in self.agents.values()):
                raise RpcError(ErrorCode.NAME_TAKEN, f"a live agent is already named {p.name!r}")
        for key in p.env:
            if not key or "=" in key or "\0" in key:
                raise RpcError(ErrorCode.INVALID_PARAMS, f"bad environment variable name: {key!r}")
        if agent_id is None:
            agent_id = secrets.token_hex(4)
            while agent_id in self.agents:
                agent_id = secrets.token_hex(4)
        token = secrets.token_urlsafe(32)
        if p.yolo and not (launch and launch.yolo):
            launch = dataclasses.replace(launch or Launch(), yolo=True)
        try:
            prepared = prepare_launch(
                provider.spec, home=self._home, socket=self._socket, agent_id=agent_id, token=token, cwd=cwd,
                spawn=p, launch=launch or Launch(), session_id=session_id,
            )
        except (OSError, ValueError) as e:
            raise RpcError(ErrorCode.SPAWN_FAILED, f"cannot prepare {provider.name}: {e}") from None
        command = [*provider.spec.command, *prepared.args, *p.args]
        if find_command(command[0], prepared.env.get("PATH", os.defpath)) is None:
            message = not_found(command[0], prepared.env.get("PATH", os.defpath), path_given="PATH" in p.env)
            raise RpcError(ErrorCode.SPAWN_FAILED, f"cannot start {provider.name}: {message}")
        agent = Agent(
            agent_id=agent_id,
            name=p.name,
            provider=provider,
            cwd=cwd,
            env=prepared.env,
            command=command,
            rows=p.rows,
            cols=p.cols,
            transcript=self._home / "transcripts" / f"{agent_id}.log",
            bus=self._bus,
            store=self._store,
        )
        if launch is not None:
            agent.session = launch.session
            agent.profile = launch.profile.name if launch.profile else None
            agent.role = launch.role or (launch.profile.role if launch.profile else None)
            agent.parent = launch.parent
        agent.spec = json.dumps(
            {
                "spawn": msgspec.to_builtins(p),
                "model": launch.model if launch else None,
                "yolo": launch.yolo if launch else False,
                "session_id": prepared.session_id,
            }
        )
        agent.token_hash = hash_token(token)
        agent.detector.expect_history = bool(history and session_id and provider.spec.resume_args)
        try:
            agent.start()
        except (OSError, ValueError) as e:
            agent.transcript.close()
            raise RpcError(ErrorCode.SPAWN_FAILED, f"cannot start {provider.name}: {e}") from None
        self.agents[agent_id] = agent
        self._by_token[agent.token_hash] = agent
        return agent

    def in_session(self, session: str) -> list[Agent]:
        return [a for a in self.agents.values() if a.session == session]

    async def stop_all(self, grace: float) -> None:
        live = [a for a in self.agents.values() if a.status.live]
        await asyncio.gather(*(a.terminate(grace) for a in live), return_exceptions=True)

    async def recover(self) -> list[dict[str, Any]]:
        """Mark agents a previous daemon left running (their PTYs died with it).

        Returns what is needed to launch the session agents among them again.
        """
        rows = await self._store.fetchall(
            "SELECT id, status, session, profile, role, parent, spec FROM agents WHERE status != ?",
            (Status.EXITED.value,),
        )
        now = time.time()
        relaunch = []
        for agent_id, status, session, profile, role, parent, spec in rows:
            self._store.write("UPDATE agents SET status=?, status_since=? WHERE id=?", (Status.EXITED.value, now, agent_id))
            self._bus.publish(
                EventKind.STATUS, agent_id, Status(status), Status.EXITED, Signal.RECOVERY,
                {"reason": "the daemon that ran this agent stopped"},
            )
            if session and spec:
                turns = await self._store.fetchall(
                    "SELECT 1 FROM events WHERE agent=? AND kind=? AND new=? LIMIT 1",
                    (agent_id, EventKind.STATUS.value, Status.COMPLETED.value))
                relaunch.append({"id": agent_id, "session": session, "profile": profile, "role": role,
                                 "parent": parent, "had_turns": bool(turns), **json.loads(spec)})
        await self._store.flush()
        if rows:
            log.info("recovered agents from a previous daemon", marked_exited=len(rows), to_relaunch=len(relaunch))
            left = leftovers.find({row[0] for row in rows}, self._socket)
            if left:  # before any of them starts again
                ended = await leftovers.end(sorted(left), LEFTOVER_GRACE_S)
                log.warning("ended processes a previous daemon's agents left running",
                            agents=sorted(set(left.values())), processes=ended)
        return relaunch
