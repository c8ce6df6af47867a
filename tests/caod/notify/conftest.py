"""A real HTTP receiver on 127.0.0.1 for webhook tests, and daemons with short retry times."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

FAST_RETRY = {"CAOD_NOTIFY_RETRY_FIRST_S": "0.2", "CAOD_NOTIFY_RETRY_MAX_S": "0.5"}


class Receiver:
    """Records each POST; answers `fail_next` of them with 500 first. Checks the HMAC when given a secret."""

    def __init__(self, secret: str | None = None, port: int = 0, tls: tuple[Path, Path] | None = None):
        self.secret = secret
        self.tls = tls  # (certificate, key): serve https
        self.port = port or free_port()
        self.received: list[dict] = []  # answered 200: {"headers", "body", "json", "signed"}
        self.refused = 0  # answered 500
        self.fail_next = 0
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/hook?x=1"

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    if receiver.fail_next > 0:
                        receiver.fail_next -= 1
                        receiver.refused += 1
                        self.send_response(500)
                        self.end_headers()
                        return
                    signed = None
                    if receiver.secret is not None:
                        want = "sha256=" + hmac.new(receiver.secret.encode(), body, hashlib.sha256).hexdigest()
                        signed = hmac.compare_digest(want, self.headers.get("X-Caod-Signature-256", ""))
                    receiver.received.append({"headers": dict(self.headers), "body": body, "path": self.path,
                                              "json": json.loads(body), "signed": signed})
                    receiver.arrived.notify_all()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        if self.tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self.tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wait(self, pred, what: str, timeout: float = 20) -> list[dict]:
        """Until pred(received) holds; the received list (a copy)."""
        with self.arrived:
            if not self.arrived.wait_for(lambda: pred(self.received), timeout):
                raise AssertionError(f"{what}: not within {timeout}s; received {[r['json'] for r in self.received]}")
            return list(self.received)

    def wait_kind(self, kind: str, timeout: float = 20) -> list[dict]:
        return self.wait(lambda got: any(r["json"].get("kind") == kind for r in got), f"a {kind} event", timeout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def receiver():
    made: list[Receiver] = []

    def make(secret: str | None = None, port: int = 0, start: bool = True, tls=None) -> Receiver:
        r = Receiver(secret, port, tls)
        made.append(r)
        return r.start() if start else r

    yield make
    for r in made:
        r.stop()


@pytest.fixture
def notify_daemon(daemon_factory):
    """A daemon whose sinks retry within half a second."""
    d = daemon_factory.new(start=False)
    d.env.update(FAST_RETRY)
    return d.start()


def self_signed(folder: Path, name: str) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made by openssl."""
    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


@pytest.fixture(name="self_signed")
def _self_signed_fixture():
    return self_signed
