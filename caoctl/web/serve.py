"""Run the dashboard: bind the port, follow the daemon's events, serve until Ctrl-C or SIGTERM."""

from __future__ import annotations

import asyncio
import ipaddress
import secrets
import socket
from pathlib import Path
from typing import Callable

import uvicorn

from caoctl.web.app import create_app
from caoctl.web.link import DaemonLink


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before the URL is printed (port 0: the system picks one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def url_for(host: str, port: int, token: str | None) -> str:
    where = f"[{host}]" if ":" in host else host
    return f"http://{where}:{port}/" + (f"?token={token}" if token else "")


class _Server(uvicorn.Server):
    """uvicorn's server, ending the open event streams when told to stop (they never end by themselves)."""

    def __init__(self, config: uvicorn.Config, link: DaemonLink, loop: asyncio.AbstractEventLoop):
        super().__init__(config)
        self.link = link
        self.loop = loop

    def handle_exit(self, sig, frame) -> None:
        super().handle_exit(sig, frame)
        # A signal handler may run between any two steps of the loop: hand the work to the loop.
        self.loop.call_soon_threadsafe(self.link.hub.shut)


async def _serve(link: DaemonLink, sock: socket.socket, host: str, port: int, token: str | None) -> None:
    link.start_events(asyncio.get_running_loop())
    try:
        config = uvicorn.Config(create_app(link, host, port, token), log_level="warning", access_log=False,
                                lifespan="off", timeout_graceful_shutdown=1)
        await _Server(config, link, asyncio.get_running_loop()).serve(sockets=[sock])
    finally:
        link.stop()


def run(socket_path: Path, sock: socket.socket, host: str, use_token: bool, announce: Callable[[str], None]) -> None:
    """Serve on the bound `sock`; `announce` gets the URL once the daemon answered."""
    port = sock.getsockname()[1]
    token = secrets.token_urlsafe(32) if use_token else None
    link = DaemonLink(socket_path)
    link.call_sync("daemon.status")  # no daemon: one clear error now, not a page of them later
    announce(url_for(host, port, token))
    asyncio.run(_serve(link, sock, host, port, token))
