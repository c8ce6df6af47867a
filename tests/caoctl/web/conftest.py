"""A real `caoctl web` process against the test daemon, and a small HTTP client for it."""

from __future__ import annotations

import http.client
import json
import select
import subprocess
import sys
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

START_TIMEOUT = 20.0


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self):
        return json.loads(self.body)


class Web:
    """One `caoctl web --port 0` subprocess; its URL, port and token."""

    def __init__(self, daemon, *args: str):
        self.proc = subprocess.Popen([sys.executable, "-m", "caoctl", "web", "--port", "0", *args], env=daemon.env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], START_TIMEOUT)
        line = self.proc.stdout.readline().strip() if ready else ""
        if not line.startswith("http://"):
            self.stop()
            raise AssertionError(f"caoctl web printed no URL: {line!r} {self.proc.stderr.read()}")
        self.url = line
        parts = urlsplit(line)
        self.port = parts.port
        self.token = parts.query.removeprefix("token=") or None
        self.origin = f"http://127.0.0.1:{self.port}"

    def request(self, method: str, path: str, headers: dict | None = None, body: bytes | None = None,
                cookie: bool = True) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        try:
            conn.request(method, path, body=body, headers=self.headers(headers, cookie))
            r = conn.getresponse()
            return Reply(r.status, r.headers, r.read())
        finally:
            conn.close()

    def headers(self, extra: dict | None = None, cookie: bool = True) -> dict:
        h = {"Cookie": f"caod_web={self.token}"} if cookie and self.token else {}
        h.update(extra or {})
        return h

    def stream(self, path: str, headers: dict | None = None) -> "Stream":
        return Stream(self, path, headers)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdout, self.proc.stderr):
            f.close()


class Stream:
    """A Server-Sent Events response read event by event."""

    def __init__(self, web: Web, path: str, headers: dict | None):
        self.conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=15)
        self.conn.request("GET", path, headers=web.headers(headers))
        self.response = self.conn.getresponse()
        self.status = self.response.status

    def next_event(self) -> tuple[str, object]:
        name, data = None, []
        while True:
            line = self.response.readline()  # through the chunked framing
            if not line:
                raise ConnectionError("the stream ended")
            line = line.decode().rstrip("\r\n")
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
            elif not line and name is not None:
                return name, json.loads("\n".join(data))

    def until(self, pred, timeout: float = 20) -> list[tuple[str, object]]:
        """Events up to and including the first for which pred(name, data) holds."""
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            assert time.monotonic() < deadline, f"no matching event within {timeout}s; saw {seen}"
            self.conn.sock.settimeout(max(0.1, deadline - time.monotonic()))
            got = self.next_event()
            seen.append(got)
            if pred(*got):
                return seen

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def web_factory():
    started: list[Web] = []

    def start(daemon, *args: str) -> Web:
        w = Web(daemon, *args)
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop()


@pytest.fixture
def web(daemon, web_factory) -> Web:
    return web_factory(daemon)
