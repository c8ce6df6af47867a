"""What the reliability tests measure of a running daemon: its memory, its fds, its calls."""

from __future__ import annotations

import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from caoctl.client import Client
from caod.protocol import DaemonStatus


@pytest.fixture(autouse=True)
def _linux_only():
    if not sys.platform.startswith("linux"):
        pytest.skip("reads the daemon's memory and fds from /proc (Linux only)")


def rss_mib(pid: int) -> float:
    """The process's resident memory, in MiB."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


@dataclass
class Quiet:
    """The daemon serving only the connection that asked (and nothing else running on it)."""

    status: DaemonStatus
    fds: int  # the daemon's open fds then, that connection's included
    rss: float  # MiB


def quiet(daemon, timeout: float = 10) -> Quiet:
    """Wait until the daemon serves only the asking connection, and measure it then.
    (So a test makes its clients with Client and closes them, not with daemon.client().)"""
    deadline = time.monotonic() + timeout
    with Client(daemon.socket) as c:
        while True:
            status = c.call("daemon.status", timeout=10)
            if status.connections == 1 and status.calls == 1:
                return Quiet(status, fd_count(daemon.pid), rss_mib(daemon.pid))
            if time.monotonic() > deadline:
                raise AssertionError(f"the daemon still holds other connections or calls: {status}")
            time.sleep(0.05)


class Lines:
    """A bare NDJSON connection: frames out, reply lines in (a batch's reply is one line)."""

    def __init__(self, path: Path, timeout: float = 20):
        self.sock = connect(path)
        self.sock.settimeout(timeout)
        self._buf = b""

    def send(self, frame: bytes) -> None:
        self.sock.sendall(frame + b"\n")

    def read(self) -> bytes:
        while b"\n" not in self._buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the daemon closed the connection")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line

    def __enter__(self) -> "Lines":
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


def connect(path: Path) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(str(path))
    return s


def send_without_reading(s: socket.socket, data: bytes, seconds: float) -> tuple[int, OSError | None]:
    """Write `data` and never read; stop when the daemon stops taking it for `seconds`.
    Returns the bytes taken and the error that ended it, if any."""
    s.settimeout(seconds)
    sent = 0
    try:
        while sent < len(data):
            sent += s.send(data[sent:sent + 65536])
    except TimeoutError:
        return sent, None
    except OSError as e:  # dropped by the daemon
        return sent, e
    return sent, None


@pytest.fixture(name="rss_mib")
def _rss_fixture():
    return rss_mib


@pytest.fixture(name="quiet")
def _quiet_fixture():
    return quiet


@pytest.fixture(name="connect")
def _connect_fixture():
    return connect


@pytest.fixture(name="send_without_reading")
def _send_fixture():
    return send_without_reading


@pytest.fixture(name="lines")
def _lines_fixture():
    return Lines
