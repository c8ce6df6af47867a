"""The set of agents this daemon runs: spawn, look up, authenticate, stop, recover.

Only agents that run (or exited a moment ago) are in memory. Once an agent's exit is
committed to SQLite it is dropped: lookups, listings and counts read exited agents
back from their rows (caod.exited), also after a restart.
"""

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
from caod import exited, leftovers, retention
from caod.strays import StrayReaper
from caod.agent import Agent
from caod.events import EventBus
from caod.exited import ExitedAgent
from caod.launching import Launch, prepare_launch, working_directory
from caod.logs import log
from caod.names import check_name
from caod.protocol import AgentInfo, ErrorCode, Event, SpawnParams
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
        self.agents: dict[str, Agent] = {}  # running, or exited and not yet committed
        self._by_token: dict[str, Agent] = {}
        self._forgetting: set[asyncio.Task] = set()  # exits waiting to be committed
        self._starting: dict[str, Agent] = {}  # spawns whose process is being started (off the loop)
        self._start_tasks: set[asyncio.Task] = set()
        self._strays = StrayReaper(socket_path, LEFTOVER_GRACE_S)  # what exited agents left running
        bus.subscribe(self._on_event)

    def _in_memory(self, ref: str) -> Agent | None:
        if ref in self.agents:
            return self.agents[ref]
        named = [a for a in self.agents.values() if a.name == ref]
        if named:
            live = [a for a in named if a.status.live]
            return (live or named)[-1]
        return None

    def resolve(self, ref: str) -> Agent:
        """An agent in memory by id, by name (live agents first), or by a unique id prefix.
        `lookup` finds exited agents too."""
        agent = self._in_memory(ref)
        prefixed = [a for a in self.agents.values() if a.id.startswith(ref)] if agent is None and len(ref) >= 4 else []
        if agent is None and len(prefixed) == 1:
            agent = prefixed[0]
        if agent is None:
            raise RpcError(ErrorCode.NO_SUCH_AGENT, f"no such agent: {ref}")
        return agent

    async def lookup(self, ref: str) -> Agent | ExitedAgent:
        """An agent by id, by name (a live one first, else the newest), or by a unique id
        prefix: one in memory, else an exited one from its row."""
        agent = self._in_memory(ref)
        if agent is not None:
            return agent
        found = await exited.by_ref(self._store, ref)
        if found is not None:
            return self.agents.get(found.id) or found
        if len(ref) >= 4:
            ids = {a.id for a in self.agents.values() if a.id.startswith(ref)}
            ids.update(await exited.ids_with_prefix(self._store, ref))
            if len(ids) == 1:
                (only,) = ids
                found = self.agents.get(only) or await exited.by_ref(self._store, only)
                if found is not None:
                    return found
            elif ids:
                raise RpcError(ErrorCode.NO_SUCH_AGENT, f"agent prefix {ref!r} is ambiguous")
        raise RpcError(ErrorCode.NO_SUCH_AGENT, f"no such agent: {ref}")

    async def live(self, ref: str) -> Agent:
        """A running agent; an exited one is an `agent exited` error with how it ended."""
        agent = await self.lookup(ref)
        if isinstance(agent, ExitedAgent) or agent.status is Status.EXITED:
            raise RpcError(ErrorCode.AGENT_EXITED, f"agent {agent.id} has exited", exited.exit_data(agent))
        return agent

    async def infos(self, session: str | None = None, live_only: bool = False) -> list[AgentInfo]:
        """Every agent (of one session), oldest first: the running ones, and unless
        `live_only` the exited ones too."""
        out = [a.info() for a in self.agents.values()
               if (session is None or a.session == session) and (a.status.live or not live_only)]
        if not live_only:
            out += [i for i in await exited.infos(self._store, session) if i.id not in self.agents]
        return sorted(out, key=lambda i: i.created_at)

    async def counts(self) -> tuple[int, int]:
        """(agents known, agents running)."""
        # An agent that has just exited is no longer live in memory, and its row's new
        # status may still be queued: wait for the queue, or it would count nowhere.
        await self._store.flush()
        live = sum(1 for a in self.agents.values() if a.status.live)
        return live + await exited.count(self._store), live

    def _on_event(self, event: Event) -> None:
        """Keep what queries of an agent need in its row; forget it once its exit is committed."""
        if event.kind is not EventKind.STATUS or event.new not in (Status.COMPLETED, Status.EXITED):
            return
        agent = self.agents.get(event.agent)
        if agent is None:
            return
        try:
            if event.new is Status.COMPLETED:
                exited.save_turn(self._store, agent)
            else:
                exited.save_exit(self._store, agent)
                self._strays.agent_exited(agent.id)
                task = asyncio.get_running_loop().create_task(self._forget_when_stored(agent))
                self._forgetting.add(task)
                task.add_done_callback(self._forgetting.discard)
        except Exception as e:  # a subscriber must never raise into the agent's exit
            log.error("could not record an agent's state", agent=agent.id, error=repr(e))

    async def _forget_when_stored(self, agent: Agent) -> None:
        try:
            await self._store.sync()
        except Exception as e:  # its row may be stale: it stays in memory, still queryable
            log.warning("kept an exited agent in memory: its exit was not stored", agent=agent.id, error=str(e))
            return
        if self.agents.get(agent.id) is agent:
            del self.agents[agent.id]
        if agent.token_hash is not None and self._by_token.get(agent.token_hash) is agent:
            del self._by_token[agent.token_hash]

    def authenticate(self, token: str) -> Agent:
        """The live agent holding `token`; anything else is refused."""
        agent = self._by_token.get(hash_token(token)) if token else None
        if agent is None or not agent.status.live:
            raise RpcError(ErrorCode.PERMISSION_DENIED, "permission denied: unknown or stale agent token")
        return agent

    def new_id(self) -> str:
        """An id no agent has (exited agents are not in memory; their folders stay until `gc`)."""
        agent_id = secrets.token_hex(4)
        while agent_id in self.agents or agent_id in self._starting or (self._home / "agents" / agent_id).exists():
            agent_id = secrets.token_hex(4)
        return agent_id

    async def spawn(self, p: SpawnParams, launch: Launch | None = None, agent_id: str | None = None,
                    session_id: str | None = None, history: bool = False) -> Agent:
        """Start an agent. `session_id` resumes that CLI conversation (after a restart);
        `history`: it had turns, which the resumed CLI draws.

        The fork and exec run off the loop (PtyChild.launch), so spawns overlap. A spawn
        goes on to the end once begun, even if its caller goes: the agent is then running
        and listed, or it failed and left nothing behind."""
        agent, fresh = self._new_agent(p, launch, agent_id, session_id, history)
        self._starting[agent.id] = agent
        task = asyncio.ensure_future(self._start(agent, fresh))
        self._start_tasks.add(task)
        task.add_done_callback(self._start_tasks.discard)
        return await asyncio.shield(task)

    async def _start(self, agent: Agent, fresh: bool) -> Agent:
        try:
            await agent.start()
        except (OSError, ValueError) as e:
            agent.transcript.close()
            if fresh:
                retention.remove_paths(retention.agent_files(self._home, agent.id))
            raise RpcError(ErrorCode.SPAWN_FAILED, f"cannot start {agent.provider.name}: {e}") from None
        finally:
            del self._starting[agent.id]
        self.agents[agent.id] = agent
        self._by_token[agent.token_hash] = agent
        return agent

    def _new_agent(self, p: SpawnParams, launch: Launch | None, agent_id: str | None, session_id: str | None,
                   history: bool) -> tuple[Agent, bool]:
        """The checks and files of a spawn, and its Agent not started yet; (agent, fresh)."""
        try:
            provider = providers.get(p.provider)
        except (providers.UnknownProvider, providers.BadProvider) as e:
            raise RpcError(ErrorCode.NO_SUCH_PROVIDER, str(e)) from None
        cwd = working_directory(p.cwd, os.getcwd())
        if not (1 <= p.rows <= MAX_ROWS and 1 <= p.cols <= MAX_COLS):
            raise RpcError(ErrorCode.INVALID_PARAMS, f"size must be within 1..{MAX_ROWS} rows, 1..{MAX_COLS} cols")
        if p.name is not None:
            check_name("agent", p.name)
            if any(a.name == p.name and a.status.live for a in [*self.agents.values(), *self._starting.values()]):
                raise RpcError(ErrorCode.NAME_TAKEN, f"a live agent is already named {p.name!r}")
        for key in p.env:
            if not key or "=" in key or "\0" in key:
                raise RpcError(ErrorCode.INVALID_PARAMS, f"bad environment variable name: {key!r}")
        # Not a relaunch (an id from new_id, or none): a failed start leaves no files behind.
        fresh = agent_id is None or not (self._home / "agents" / agent_id).exists()
        agent_id = agent_id or self.new_id()
        token = secrets.token_urlsafe(32)
        if p.yolo and not (launch and launch.yolo):
            launch = dataclasses.replace(launch or Launch(), yolo=True)
        try:
            prepared = prepare_launch(
                provider.spec, home=self._home, socket=self._socket, agent_id=agent_id, token=token, cwd=cwd,
                spawn=p, launch=launch or Launch(), session_id=session_id,
            )
        except (OSError, ValueError) as e:
            if fresh:
                retention.remove_paths(retention.agent_files(self._home, agent_id))
            raise RpcError(ErrorCode.SPAWN_FAILED, f"cannot prepare {provider.name}: {e}") from None
        command = [*provider.spec.command, *prepared.args, *p.args]
        if find_command(command[0], prepared.env.get("PATH", os.defpath)) is None:
            message = not_found(command[0], prepared.env.get("PATH", os.defpath), path_given="PATH" in p.env)
            if fresh:
                retention.remove_paths(retention.agent_files(self._home, agent_id))
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
        return agent, fresh

    def in_session(self, session: str) -> list[Agent]:
        return [a for a in self.agents.values() if a.session == session]

    async def stop_all(self, grace: float) -> None:
        if self._start_tasks:  # spawns under way: their agents are stopped with the others
            await asyncio.gather(*self._start_tasks, return_exceptions=True)
        live = [a for a in self.agents.values() if a.status.live]
        await asyncio.gather(*(a.terminate(grace) for a in live), return_exceptions=True)
        await self._strays.drain()  # nothing an agent started outlives the daemon that ran it

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
        reason = "the daemon that ran this agent stopped"
        for agent_id, status, session, profile, role, parent, spec in rows:
            self._store.write("UPDATE agents SET status=?, status_since=?, reason=? WHERE id=?",
                              (Status.EXITED.value, now, reason, agent_id))
            self._bus.publish(
                EventKind.STATUS, agent_id, Status(status), Status.EXITED, Signal.RECOVERY, {"reason": reason},
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
