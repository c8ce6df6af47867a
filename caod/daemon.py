"""The daemon: wires the store, event bus, agents and socket server together."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from pathlib import Path

from caod import systemd
from caod.agents import AgentManager
from caod.events import EventBus
from caod.flows import Flows
from caod.handlers import HANDLERS
from caod.handover.sessions import SessionHandovers
from caod.inbox import Inbox
from caod.memory import Memory
from caod.notices import Notices
from caod.notify import Notifier
from caod.orchestrator import Orchestrator
from caod.results import Results
from caod.retention import Retention
from caod.sessions import SessionManager
from caod.logs import log
from caod.rpc import Dispatcher
from caod.server import Server
from caod.store import Store
from caod.workflows import Workflows
from caod.worktrees import Worktrees

STOP_GRACE_S = 3.0


class Daemon:
    def __init__(self, socket_path: Path, home: Path, listen_sock: socket.socket | None = None):
        self.socket_path = socket_path
        self.home = home
        self.started_at = time.time()
        self.store = Store(home / "caod.db")
        self.bus = EventBus(self.store)
        self.agents = AgentManager(home, socket_path, self.bus, self.store)
        self.inbox = Inbox(self.store, self.bus, self.agents)
        self.notices = Notices(self)  # workers' prompts, errors, exits, silence and stalls, to their parents
        self.results = Results(self.store, self.bus, self.agents, self.inbox)  # workers' results
        self.sessions = SessionManager(self)
        self.orchestrator = Orchestrator(self)
        self.memory = Memory(self)  # notes kept across sessions, recalled by relevance
        self.worktrees = Worktrees(self)  # workers' git worktrees; kept across restarts until cleaned
        self.retention = Retention(self)  # exited agents' rows and files; caod --keep-exited
        self.notifier = Notifier(self)  # events to webhooks, the desktop, commands and plugins (caod.notify)
        self.flows = Flows(self)  # scheduled runs (one timer for the next due)
        self.handovers = SessionHandovers(self.store)  # handoffs, assigns, messages: journal and files
        self.workflows = Workflows(self)  # fixed sequences of turns across participants, journaled
        self.dispatcher = Dispatcher(HANDLERS)
        self.server = Server(self)
        self._listen_sock = listen_sock
        self._stop: asyncio.Event | None = None
        # After a crash, start the agents of live sessions again (same ids,
        # pending messages then reach them).
        self.relaunch = True

    def request_stop(self) -> None:
        if self._stop is not None:
            self._stop.set()

    async def run(self, ready_fd: int | None = None) -> None:
        self._stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        await self.store.open()
        try:
            await self.bus.load()
            await self.notifier.load()  # before recovery: its events are told too
            to_relaunch = await self.agents.recover()
            await self.sessions.load()
            await self.inbox.load()
            await self.notices.load()
            await self.flows.load()
            await self.workflows.load()  # runs a previous daemon left running: interrupted
            self.results.start()
            if self._listen_sock is not None:
                await self.server.start(sock=self._listen_sock)
            else:
                await self.server.start(path=str(self.socket_path))
        except BaseException:
            await self.store.close()  # its thread would keep the process from exiting
            raise
        if self.relaunch:
            await self.sessions.relaunch(to_relaunch)
        await self.notices.relaunched()  # (or forgets what was owed by agents not started again)
        self.retention.start()
        self.flows.start()  # after the relaunch: a missed run sees the sessions that are back
        log.info("caod ready", socket=str(self.socket_path), home=str(self.home), pid=os.getpid(),
                 activated=self._listen_sock is not None)
        systemd.notify(f"READY=1\nSTATUS=listening on {self.socket_path}\nMAINPID={os.getpid()}")
        if ready_fd is not None:
            try:
                os.write(ready_fd, b"ready\n")
                os.close(ready_fd)
            except OSError:
                pass
        try:
            await self._stop.wait()
        finally:
            await self._shutdown()

    async def _shutdown(self) -> None:
        systemd.notify("STOPPING=1")
        log.info("caod stopping", agents_live=sum(1 for a in self.agents.agents.values() if a.status.live))
        self.server.stop_listening()
        self.retention.stop()
        self.flows.stop()
        self.notices.stop()
        if self._listen_sock is None:
            try:
                self.socket_path.unlink()
            except FileNotFoundError:
                pass
        self.workflows.stop()  # its runs' agents end now: the runs are interrupted, not failed
        await self.agents.stop_all(STOP_GRACE_S)
        self.notifier.stop()  # after stop_all, so the agents' exits are queued too (unsent ones go at the next start)
        await self.store.close()
        log.info("caod stopped")
        await self.server.close()
