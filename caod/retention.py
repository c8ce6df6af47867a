"""Retention of exited agents: their rows, folders and transcripts are removed once
they have been exited longer than a limit, by `caoctl gc` (agent.gc) and automatically.

Never removed: an agent in memory (running), or one of a session that is still
active (the next daemon may start it again, and its folder holds the CLI's
conversation to resume). An agent's events and the messages sent to it go with its
row, except the newest event and message overall, so numbering never goes back after
a restart (both count on from the highest number stored).

Automatic removal (`caod --keep-exited`, default 7 days) runs on one-shot timers, never
a polling loop: once at start, then when the oldest exited agent passes the limit
(armed when an agent exits, re-armed after each run).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from caod.logs import log
from caod.protocol import Event, GcAgent, GcResult
from caod.status import EventKind, Status

if TYPE_CHECKING:
    from caod.daemon import Daemon

DEFAULT_KEEP_S = 7 * 86400
# Files with no agent row are left alone this long: a spawn may be writing them.
LEFTOVER_MIN_AGE_S = 3600.0
# After a run that left an agent it should have removed, the next try waits this long.
RETRY_S = 60.0
_AGENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def agent_files(home: Path, agent_id: str) -> list[Path]:
    """What an agent has on disk: its folder and its transcript (and its rotated part)."""
    if not _AGENT_ID.match(agent_id):  # never a path out of our folders
        return []
    transcript = home / "transcripts" / f"{agent_id}.log"
    return [home / "agents" / agent_id, transcript, transcript.with_name(transcript.name + ".1")]


def remove_paths(paths: list[Path]) -> None:
    """Remove files and folders; a symlink is removed itself, never followed."""
    for path in paths:
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, onerror=_unlock_and_retry)
            else:
                path.unlink()
        except FileNotFoundError:
            pass
        except OSError as e:
            log.warning("could not remove an exited agent's file", path=str(path), error=str(e))


def _unlock_and_retry(func, path, _exc) -> None:
    """A folder a CLI made read-only (a module cache) inside the agent's own folder."""
    try:
        os.chmod(os.path.dirname(path), 0o700)
        func(path)
    except OSError:
        pass


def _size(path: Path) -> int:
    try:
        st = path.lstat()
    except OSError:
        return 0
    if not path.is_dir() or path.is_symlink():
        return st.st_size
    total = st.st_size
    for folder, dirs, files in os.walk(path):
        for name in dirs + files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                pass
    return total


def _leftovers(home: Path, known: set[str], cutoff: float) -> list[Path]:
    """Agent folders and transcripts with no row, untouched since `cutoff`."""
    found = []
    for folder in (home / "agents", home / "transcripts"):
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            agent_id = entry.name
            if folder.name == "transcripts":
                agent_id = agent_id.removesuffix(".1")
                if not agent_id.endswith(".log"):
                    continue
                agent_id = agent_id.removesuffix(".log")
            if agent_id in known or not _AGENT_ID.match(agent_id):
                continue
            try:
                if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                    found.append(Path(entry.path))
            except OSError:
                pass
    return found


class Retention:
    def __init__(self, daemon: "Daemon", keep_s: float | None = DEFAULT_KEEP_S):
        self._d = daemon
        self.keep_s = keep_s  # None: never remove automatically
        self._lock = asyncio.Lock()
        self._timer: asyncio.TimerHandle | None = None
        self._due: float | None = None
        self._run_task: asyncio.Task | None = None
        self._stopped = False

    async def collect(self, older_than: float, dry_run: bool = False) -> GcResult:
        """Remove (or with `dry_run` list) exited agents that exited more than `older_than` s ago."""
        async with self._lock:
            return await self._collect(max(0.0, older_than), dry_run)

    async def _collect(self, older_than: float, dry_run: bool) -> GcResult:
        d = self._d
        cutoff = time.time() - older_than
        await d.store.flush()  # the newest exits are in their rows
        rows = await d.store.fetchall(
            "SELECT id, name, status_since, session FROM agents WHERE status = ? AND status_since <= ?"
            " ORDER BY status_since", (Status.EXITED.value, cutoff))
        known = {r[0] for r in await d.store.fetchall("SELECT id FROM agents")}
        # Checked after the last await, so nothing can start one of them in between.
        active = {s.name for s in d.sessions.sessions.values() if s.active}
        chosen = [r for r in rows if r[0] not in d.agents.agents and r[3] not in active]
        known |= set(d.agents.agents)
        ids = [r[0] for r in chosen]
        if ids and not dry_run:
            await self._delete_rows(ids)
        home = d.home
        leftover_cutoff = min(cutoff, time.time() - LEFTOVER_MIN_AGE_S)

        def on_disk() -> tuple[list[int], list[Path], int]:
            sizes = [sum(_size(p) for p in agent_files(home, i)) for i in ids]
            strays = _leftovers(home, known, leftover_cutoff)
            stray_bytes = sum(_size(p) for p in strays)
            if not dry_run:
                remove_paths([p for i in ids for p in agent_files(home, i)] + strays)
            return sizes, strays, stray_bytes

        sizes, strays, stray_bytes = await asyncio.to_thread(on_disk)
        agents = [GcAgent(r[0], r[1], r[2], size) for r, size in zip(chosen, sizes)]
        total = sum(sizes) + stray_bytes
        if not dry_run and (agents or strays):
            log.info("removed exited agents", agents=len(agents), leftovers=len(strays), bytes=total)
        return GcResult(agents, [str(p) for p in strays], total, dry_run)

    async def _delete_rows(self, ids: list[str]) -> None:
        store = self._d.store
        for start in range(0, len(ids), 500):  # within SQLite's limit on parameters
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            store.write(f"DELETE FROM agents WHERE id IN ({marks})", tuple(chunk))
            store.write(f"DELETE FROM results WHERE agent IN ({marks})", tuple(chunk))
            store.write(f"DELETE FROM events WHERE agent IN ({marks}) AND seq < (SELECT MAX(seq) FROM events)",
                        tuple(chunk))
            store.write(f"DELETE FROM messages WHERE receiver IN ({marks})"
                        " AND id < (SELECT MAX(id) FROM messages)", tuple(chunk))
        await store.sync()  # FIFO: every delete is committed (StorageError if the disk refuses)

    # ------------------------------------------------------------ automatic

    def start(self) -> None:
        """Run once now, then on timers (nothing if automatic removal is off)."""
        if self.keep_s is None:
            return
        self._d.bus.subscribe(self._on_event)
        self._fire()

    def stop(self) -> None:
        self._stopped = True  # agents stopping with the daemon arm nothing
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._run_task is not None:
            self._run_task.cancel()

    def _on_event(self, event: Event) -> None:
        if event.kind is EventKind.STATUS and event.new is Status.EXITED and not self._stopped:
            self._arm(event.ts + self.keep_s)

    def _arm(self, due: float) -> None:
        if self._stopped:
            return
        if self._due is not None and self._due <= due:
            return  # an earlier run will see this one too
        if self._timer is not None:
            self._timer.cancel()
        self._due = due
        self._timer = asyncio.get_running_loop().call_later(max(0.0, due - time.time()), self._fire)

    def _fire(self) -> None:
        self._timer, self._due = None, None
        if self._run_task is not None and not self._run_task.done():
            self._arm(time.time() + RETRY_S)
            return
        self._run_task = asyncio.get_running_loop().create_task(self._run(), name="retention")

    async def _run(self) -> None:
        keep_s = self.keep_s
        if keep_s is None or self._stopped:
            return
        try:
            await self.collect(keep_s)
            oldest = await self._oldest_removable()
        except Exception as e:  # a failed run must not end automatic removal
            log.error("removing exited agents failed", error=repr(e))
            self._arm(time.time() + RETRY_S)
            return
        if oldest is not None:
            self._arm(max(oldest + keep_s, time.time() + RETRY_S))

    async def _oldest_removable(self) -> float | None:
        active = {s.name for s in self._d.sessions.sessions.values() if s.active}
        rows: list[Any] = await self._d.store.fetchall(
            "SELECT id, status_since, session FROM agents WHERE status = ? ORDER BY status_since",
            (Status.EXITED.value,))
        for agent_id, since, session in rows:
            if session not in active and agent_id not in self._d.agents.agents:
                return since
        return None
