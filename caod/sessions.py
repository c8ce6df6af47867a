"""Sessions: a named team (one supervisor plus workers) working in one folder."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from caod.launching import Launch, working_directory
from caod.inbox import USER
from caod.logs import log
from caod.profiles import NoSuchProfile, Profile, ProfileError, ProfileStore
from caod.protocol import ErrorCode, LaunchParams, LaunchResult, SessionInfo, SpawnParams
from caod.rpc import RpcError
from caod.status import EventKind
from caod.store import StorageError

if TYPE_CHECKING:
    from caod.agent import Agent
    from caod.daemon import Daemon

SESSION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
STOP_GRACE_S = 3.0


@dataclass
class Session:
    name: str
    cwd: str
    created_at: float
    ended_at: float | None = None
    supervisor: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    handover: bool = False  # write handoffs, assigns and messages as Markdown files (caod.handover.sessions)

    @property
    def active(self) -> bool:
        return self.ended_at is None


class SessionManager:
    def __init__(self, daemon: "Daemon"):
        self._d = daemon
        self.profiles = ProfileStore(daemon.home)
        self.sessions: dict[str, Session] = {}
        self._launching: set[str] = set()  # names of sessions whose supervisor is starting

    async def load(self) -> None:
        rows = await self._d.store.fetchall(
            "SELECT name, cwd, created_at, ended_at, supervisor, env, handover FROM sessions")
        for name, cwd, created, ended, supervisor, env, handover in rows:
            self.sessions[name] = Session(name, cwd, created, ended, supervisor, json.loads(env or "{}"),
                                          handover != 0)

    def get(self, name: str) -> Session:
        session = self.sessions.get(name)
        if session is None:
            raise RpcError(ErrorCode.NO_SUCH_SESSION, f"no such session: {name}")
        return session

    def profile(self, name: str) -> Profile:
        try:
            return self.profiles.get(name)
        except NoSuchProfile as e:
            raise RpcError(ErrorCode.NO_SUCH_PROFILE, str(e)) from None
        except ProfileError as e:
            raise RpcError(ErrorCode.INVALID_PROFILE, str(e)) from None

    async def info(self, session: Session) -> SessionInfo:
        agents = await self._d.agents.infos(session=session.name)
        return SessionInfo(session.name, session.cwd, session.created_at, session.active, session.supervisor, agents)

    # ------------------------------------------------------------ launching

    async def spawn_from_profile(self, profile: Profile, session: Session, *, provider: str | None, model: str | None,
                           yolo: bool, cwd: str, parent: str | None, rows: int = 40, cols: int = 120,
                           isolate_home: bool = False, agent_id: str | None = None) -> "Agent":
        chosen = provider or profile.provider
        if not chosen:
            raise RpcError(ErrorCode.INVALID_PARAMS,
                           f"profile {profile.name!r} names no provider: choose one (e.g. --provider scripted)")
        params = SpawnParams(provider=chosen, cwd=cwd, rows=rows, cols=cols, env=dict(session.env),
                             isolate_home=isolate_home)
        launch = Launch(session=session.name, profile=profile, role=profile.role, parent=parent, model=model, yolo=yolo)
        return await self._d.agents.spawn(params, launch, agent_id=agent_id)

    async def launch(self, p: LaunchParams) -> LaunchResult:
        profile = self.profile(p.profile)
        cwd = working_directory(p.cwd, os.getcwd())
        name = p.session or f"cao-{secrets.token_hex(3)}"
        if not SESSION_NAME.fullmatch(name):  # match's $ lets a newline end it
            raise RpcError(ErrorCode.INVALID_PARAMS, f"bad session name {name!r}: use letters, digits, '_', '-', '.'")
        existing = self.sessions.get(name)
        if (existing is not None and existing.active) or name in self._launching:
            raise RpcError(ErrorCode.NAME_TAKEN, f"a session named {name!r} is already running")
        for key in p.env:
            if not key or "=" in key or "\0" in key:
                raise RpcError(ErrorCode.INVALID_PARAMS, f"bad environment variable name: {key!r}")
        session = Session(name, cwd, time.time(), env=dict(p.env), handover=p.handover)
        self._launching.add(name)  # the supervisor starts off the loop: the name is taken meanwhile
        try:
            supervisor = await self.spawn_from_profile(profile, session, provider=p.provider, model=p.model,
                                                       yolo=p.yolo, cwd=cwd, parent=None, rows=p.rows, cols=p.cols,
                                                       isolate_home=p.isolate_home)
        finally:
            self._launching.discard(name)
        session.supervisor = supervisor.id
        self.sessions[name] = session
        try:
            await self._d.store.commit(
                "INSERT OR REPLACE INTO sessions (name, cwd, created_at, ended_at, supervisor, env, handover) "
                "VALUES (?,?,?,?,?,?,?)",
                (name, cwd, session.created_at, None, supervisor.id, json.dumps(session.env), int(session.handover)),
            )
            self._d.bus.publish(EventKind.SESSION, supervisor.id, detail={"session": name, "state": "launched"})
            if p.task:  # queued: delivered the moment the supervisor is ready, and durable
                task = await self._d.memory.briefed(supervisor, p.task, profile.memory)
                await self._d.inbox.post(USER, supervisor, task)
        except StorageError:  # the caller is told it failed: no half-made session stays running
            await self._abandon(session, supervisor)
            raise
        return LaunchResult(await self.info(session), supervisor.info())

    async def _abandon(self, session: Session, supervisor: "Agent") -> None:
        session.ended_at = time.time()
        self._d.store.write("UPDATE sessions SET ended_at=? WHERE name=?", (session.ended_at, session.name))
        self._d.bus.publish(EventKind.SESSION, supervisor.id, detail={"session": session.name, "state": "ended"})
        await supervisor.terminate(STOP_GRACE_S)

    async def relaunch(self, saved: list[dict]) -> None:
        """After a daemon restart: start the agents of live sessions again, same ids."""
        for item in saved:
            session = self.sessions.get(item["session"])
            if session is None or not session.active:
                continue
            try:
                profile = self.profile(item["profile"]) if item.get("profile") else None
                spawn = SpawnParams(**item["spawn"])
                launch = Launch(session=session.name, profile=profile, role=item.get("role"),
                                parent=item.get("parent"), model=item.get("model"), yolo=bool(item.get("yolo")))
                await self._d.agents.spawn(spawn, launch, agent_id=item["id"], session_id=item.get("session_id"),
                                           history=bool(item.get("had_turns")))
            except (RpcError, TypeError, ValueError) as e:
                log.error("could not relaunch agent", agent=item["id"], error=str(e))

    async def shutdown(self, names: list[str]) -> tuple[list[str], int]:
        agents = [a for n in names for a in self._d.agents.in_session(n) if a.status.live]
        self._d.notices.expect_exit(a.id for a in agents)  # the session ends: its workers' exits are no news
        await asyncio.gather(*(a.terminate(STOP_GRACE_S) for a in agents), return_exceptions=True)
        now = time.time()
        for name in names:
            self.sessions[name].ended_at = now
            self._d.store.write("UPDATE sessions SET ended_at=? WHERE name=?", (now, name))
            self._d.bus.publish(EventKind.SESSION, self.sessions[name].supervisor or "",
                                detail={"session": name, "state": "ended"})
        try:
            await self._d.store.sync()  # the caller is told they ended: an error if that is not stored
        except StorageError as e:
            raise StorageError(f"shut down ({len(agents)} agents stopped), but not stored yet: {e.message}") from None
        return names, len(agents)


def spec_yolo(agent: "Agent") -> bool:
    try:
        return bool(json.loads(agent.spec or "{}").get("yolo"))
    except ValueError:
        return False


def spec_isolated(agent: "Agent") -> bool:
    """Whether `agent` was started with a private HOME (its workers get one too)."""
    try:
        return bool(json.loads(agent.spec or "{}").get("spawn", {}).get("isolate_home"))
    except (ValueError, AttributeError):
        return False
