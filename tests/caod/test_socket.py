"""The daemon's socket and process life: permissions, stale sockets, rivals, SIGTERM, peers."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import stat

import pytest

from caoctl.client import Client, DaemonUnavailable, RpcFailure
from caod.protocol import ErrorCode
from caod.status import Signal, Status

NOBODY = 65534


def mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_socket_and_folder_are_private(daemon):
    assert stat.S_ISSOCK(os.lstat(daemon.socket).st_mode)
    assert mode(daemon.socket) == 0o600
    assert mode(daemon.socket.parent) == 0o700
    assert mode(daemon.home) == 0o700


def test_loose_folder_is_refused_not_changed(daemon_factory):
    d = daemon_factory.new(start=False)
    os.chmod(d.socket_dir, 0o755)  # a folder we did not make: say so, never chmod it
    d.start(expect_ready=False)
    assert d.proc.wait(timeout=15) == 1
    assert f"the socket folder {d.socket_dir} is 0755" in d.stderr() and f"chmod 700 {d.socket_dir}" in d.stderr()
    assert mode(d.socket_dir) == 0o755
    assert not d.socket.exists()


def test_stale_socket_file_is_replaced(daemon_factory):
    d = daemon_factory.new(start=False)
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(d.socket))  # a socket file nobody listens on
    dead.close()
    assert stat.S_ISSOCK(os.lstat(d.socket).st_mode)
    d.start()
    assert d.client().call("daemon.ping").pid == d.pid


def test_restart_after_kill_9(daemon_factory, ready_agent):
    first = daemon_factory.new()
    info = ready_agent(first.client())
    first.kill()
    assert first.socket.exists()  # nobody removed it
    with pytest.raises(DaemonUnavailable):
        Client(first.socket)
    second = daemon_factory.same(first)
    c = second.client()
    assert c.call("daemon.ping").pid == second.pid
    # the agent the dead daemon ran is recorded as exited, by the new daemon's recovery
    last = c.call("events.list", {"agent": info.id}).events[-1]
    assert (last.old, last.new, last.signal) == (Status.IDLE, Status.EXITED, Signal.RECOVERY)


def test_path_that_is_not_a_socket(daemon_factory):
    d = daemon_factory.new(start=False)
    d.socket.write_text("precious")
    d.start(expect_ready=False)
    assert d.proc.wait(timeout=15) != 0
    assert "not a socket" in d.stderr()
    assert d.socket.read_text() == "precious"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to hand the folder to another uid")
def test_socket_folder_of_another_user_is_refused(daemon_factory):
    d = daemon_factory.new(start=False)
    os.chown(d.socket_dir, NOBODY, NOBODY)  # private, but someone else's: they could swap the socket
    d.start(expect_ready=False)
    assert d.proc.wait(timeout=15) != 0
    assert f"belongs to uid {NOBODY}" in d.stderr()
    assert not d.socket.exists()


def test_a_listener_not_started_by_caod_is_left_alone(daemon_factory):
    d = daemon_factory.new(start=False)
    other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    other.bind(str(d.socket))  # no lock file: not a caod, but it answers
    other.listen(1)
    try:
        d.start(expect_ready=False)
        assert d.proc.wait(timeout=15) != 0
        assert "refusing to replace it" in d.stderr()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.connect(str(d.socket))  # still the other listener's socket file
        other.settimeout(5)
        other.accept()[0].close()
    finally:
        other.close()


def test_second_daemon_on_a_live_socket(daemon, daemon_factory):
    rival = daemon_factory.same(daemon, start=False)
    rival.start(expect_ready=False)
    assert rival.proc.wait(timeout=15) != 0
    err = rival.stderr()
    assert f"pid {daemon.pid}" in err and "already running" in err, err
    assert "Traceback" not in err
    # the first daemon is untouched
    assert daemon.client().call("daemon.ping").pid == daemon.pid
    assert daemon.socket.exists()


def test_sigterm_stops_agents_and_removes_the_socket(daemon, ready_agent):
    c = daemon.client()
    agents = [ready_agent(c), ready_agent(c, {"rules": [{"match": ".", "reply": "x", "think": 30}]})]
    client_b = daemon.client()
    client_b.call("agent.send", {"agent": agents[1].id, "text": "busy"})
    client_b.call("agent.wait", {"agent": agents[1].id, "statuses": ["processing"], "timeout": 10})
    pids = [a.pid for a in agents]
    assert not any(gone(p) for p in pids)
    daemon.proc.send_signal(signal.SIGTERM)
    assert daemon.proc.wait(timeout=20) == 0
    assert not daemon.socket.exists()
    assert all(gone(p) for p in pids), [p for p in pids if not gone(p)]
    assert "Traceback" not in daemon.stderr()


def test_shutdown_method(daemon, ready_agent):
    c = daemon.client()
    info = ready_agent(c)
    assert c.call("daemon.shutdown").ok is True
    assert daemon.proc.wait(timeout=20) == 0
    assert not daemon.socket.exists()
    assert gone(info.pid)


def test_restarted_daemon_records_the_stopped_agents(daemon, daemon_factory, ready_agent):
    info = ready_agent(daemon.client())
    assert daemon.stop() == 0
    again = daemon_factory.same(daemon)
    c = again.client()
    events = [e for e in c.call("events.list", {"limit": 1000}).events if e.agent == info.id]
    assert events[-1].new is Status.EXITED and events[-1].signal.value == "process"
    status = c.call("daemon.status")
    # A new daemon runs none of them, and still knows the stopped one (its row: caod.exited).
    assert (status.agents_live, status.agents) == (0, 1)
    assert c.call("agent.get", {"agent": info.id}).status is Status.EXITED


def _as_nobody(daemon, work) -> dict:
    """Run `work(socket_path)` in a child that became uid nobody; returns what it reported.

    The socket and its folder are opened to everyone first, so only the daemon's
    own SO_PEERCRED check stands in the way (the kernel records the uid at connect)."""
    os.chmod(daemon.socket.parent, 0o777)
    os.chmod(daemon.socket, 0o666)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: become nobody, connect, report what happened
        report: dict = {}
        try:
            os.close(r)
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            report = {"uid": os.getuid(), **work(str(daemon.socket))}
        except BaseException as e:  # noqa: BLE001 - report everything to the parent
            report = {"exception": repr(e)}
        finally:
            os.write(w, json.dumps(report).encode())
            os._exit(0)
    os.close(w)
    try:
        ready, _, _ = select.select([r], [], [], 20)
        assert ready, "the child did not report"
        raw = b""
        while chunk := os.read(r, 65536):
            raw += chunk
    finally:
        os.close(r)
        os.waitpid(pid, 0)
    report = json.loads(raw)
    assert "exception" not in report, report
    assert report["uid"] == NOBODY, report
    return report


def _send_and_read(request: bytes):
    def work(path: str) -> dict:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(path)
        try:
            s.sendall(request)
        except OSError as e:
            return {"data": "", "end": f"send: {e!r}"}
        data, end = b"", "eof"
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:  # the daemon closed with our request unread
                end = "reset"
                break
            if not chunk:
                break
            data += chunk
        return {"data": data.decode(errors="replace"), "end": end}
    return work


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to connect as another uid")
@pytest.mark.parametrize("request_size", ["one line", "a megabyte"])
def test_another_uid_is_refused(daemon, request_size):
    request = b'{"jsonrpc": "2.0", "id": 1, "method": "daemon.status"}\n'
    if request_size == "a megabyte":
        request = b" " * (1 << 20) + request
    report = _as_nobody(daemon, _send_and_read(request))
    # the refusal is read in full, then a clean end of file: the daemon read what we
    # sent before closing, so the connection is not reset under the client
    assert report["end"] == "eof", report
    lines = [json.loads(line) for line in report["data"].splitlines() if line.strip()]
    assert len(lines) == 1, report  # one refusal, then the connection is closed
    assert lines[0]["error"]["code"] == ErrorCode.PERMISSION_DENIED
    assert "result" not in lines[0]
    # the owner is still served
    assert daemon.client().call("daemon.ping").pid == daemon.pid


def _caoctl_call(path: str) -> dict:
    try:
        with Client(path) as c:
            c.call("daemon.status", timeout=10)
    except RpcFailure as e:
        return {"code": e.code, "message": e.message}
    except Exception as e:  # noqa: BLE001 - what caoctl would have shown instead
        return {"code": None, "message": repr(e)}
    return {"code": None, "message": "served"}


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to connect as another uid")
def test_caoctl_of_another_uid_is_told_why(daemon):
    for _ in range(5):  # the refusal raced the request: each attempt must read it
        report = _as_nobody(daemon, _caoctl_call)
        assert report["code"] == ErrorCode.PERMISSION_DENIED, report
        assert "serves only its own user" in report["message"], report
