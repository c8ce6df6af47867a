"""Agent processes that a dead daemon left behind.

A CLI that outlives its PTY's hang-up (Gemini CLI's node processes are
re-parented to init with their MCP bridge) keeps running after a `kill -9`
of the daemon. On recovery, before any agent is started again, the next
daemon finds them and ends them, so a relaunched agent never runs twice and
nothing leaks. A leftover is a process of our uid whose environment names one
of the recovered agents (`CAO_AGENT_ID`) and this daemon's socket
(`CAOD_SOCKET`), exactly as caod set them. Linux only (/proc); elsewhere
nothing is found.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path


PROC = Path("/proc")


def find(agent_ids: set[str], socket: Path) -> dict[int, str]:
    """pid -> agent id of every live process that belongs to one of `agent_ids`."""
    if not agent_ids or not PROC.is_dir():
        return {}
    want_socket = f"CAOD_SOCKET={socket}".encode()
    uid, me = os.getuid(), os.getpid()
    found: dict[int, str] = {}
    for entry in os.listdir(PROC):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            if os.stat(PROC / entry).st_uid != uid:
                continue
            env = (PROC / entry / "environ").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if want_socket not in env:
            continue
        for var in env:
            if var.startswith(b"CAO_AGENT_ID="):
                agent = var[len(b"CAO_AGENT_ID="):].decode(errors="replace")
                if agent in agent_ids:
                    found[int(entry)] = agent
                break
    return found


async def end(pids: list[int], grace: float) -> int:
    """SIGTERM, then SIGKILL to those still alive after `grace` seconds; returns when all
    are gone. Each process is held by a pidfd from the start, so a recycled pid is never
    signalled, and its end is an event (the pidfd turns readable), not a poll."""
    held: list[int] = []
    for pid in pids:
        try:
            fd = os.pidfd_open(pid)
        except OSError:  # already gone
            continue
        try:
            signal.pidfd_send_signal(fd, signal.SIGTERM)
            held.append(fd)
        except OSError:
            os.close(fd)
    try:
        alive = await _wait_gone(held, grace)
        for fd in alive:
            try:
                signal.pidfd_send_signal(fd, signal.SIGKILL)
            except OSError:
                pass
        await _wait_gone(alive, grace)
    finally:
        for fd in held:
            os.close(fd)
    return len(held)


async def _wait_gone(fds: list[int], timeout: float) -> list[int]:
    """Wait until every pidfd is readable (its process ended) or `timeout`; the ones still alive."""
    loop = asyncio.get_running_loop()
    waiting = {fd: loop.create_future() for fd in fds}
    for fd, fut in waiting.items():
        loop.add_reader(fd, lambda f=fut: f.done() or f.set_result(None))
    try:
        if waiting:
            await asyncio.wait(list(waiting.values()), timeout=timeout)
    finally:
        for fd in waiting:
            loop.remove_reader(fd)
    return [fd for fd, fut in waiting.items() if not fut.done()]
