"""The small parts of the systemd protocols caod speaks (no libsystemd needed).

- Socket activation: systemd hands over listening sockets as fds 3.. with
  LISTEN_FDS/LISTEN_PID set (sd_listen_fds(3)).
- Readiness: a datagram "READY=1" (later "STOPPING=1") to $NOTIFY_SOCKET
  (sd_notify(3)); a leading "@" names an abstract socket.
"""

from __future__ import annotations

import os
import socket

SD_LISTEN_FDS_START = 3


def listen_socket() -> socket.socket | None:
    """The inherited listening Unix socket, if systemd started us with one."""
    try:
        pid = int(os.environ.get("LISTEN_PID", "0"))
        count = int(os.environ.get("LISTEN_FDS", "0"))
    except ValueError:
        return None
    if pid != os.getpid() or count < 1:
        return None
    for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        os.environ.pop(name, None)  # our children (the agents) must not see them
    sock = socket.socket(fileno=SD_LISTEN_FDS_START)
    if sock.family != socket.AF_UNIX or sock.type != socket.SOCK_STREAM:
        raise RuntimeError("the socket systemd passed is not a Unix stream socket")
    sock.setblocking(False)
    return sock


def notify(state: str) -> bool:
    """Tell the service manager about our state; False when nobody listens."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        try:
            s.connect(address)
            s.sendall(state.encode())
        except OSError:
            return False
    return True
