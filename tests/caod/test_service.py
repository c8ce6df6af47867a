"""Running caod as a service: socket activation, sd_notify, the journal, unit files."""

from __future__ import annotations

import json
import os
import plistlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from caoctl import service
from caoctl.client import Client

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def scratch():
    folder = Path(tempfile.mkdtemp(prefix="caodsvc-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def start_caod(env: dict, listen_fd: int | None = None) -> subprocess.Popen:
    """caod as systemd would start it: fd 3 = the listening socket, LISTEN_PID = caod's own pid.

    A tiny exec wrapper sets both in the child, since the pid is only known there.
    """
    wrapper = (
        "import os, sys\n"
        f"fd = {listen_fd!r}\n"
        "if fd is not None:\n"
        "    os.dup2(fd, 3)\n"
        "    os.environ['LISTEN_PID'] = str(os.getpid())\n"
        "os.execv(sys.executable, [sys.executable, '-m', 'caod', '--home', os.environ['CAOD_HOME']])\n"
    )
    fds = (listen_fd,) if listen_fd is not None else ()
    return subprocess.Popen([sys.executable, "-c", wrapper], env=env, pass_fds=fds, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def stop(proc: subprocess.Popen) -> str:
    proc.terminate()
    try:
        _, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err


def base_env(scratch: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAOD_", "LISTEN_", "NOTIFY_", "JOURNAL_"))}
    env["CAOD_HOME"] = str(scratch / "home")
    return env


def test_socket_activation_the_way_systemd_does_it(scratch):
    path = scratch / "caod.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    os.chmod(path, 0o600)
    listener.listen(16)
    env = base_env(scratch)
    env["LISTEN_FDS"] = "1"
    # fd 3 is the listening socket, as SD_LISTEN_FDS_START says
    proc = start_caod(env, listen_fd=listener.fileno())
    listener.close()  # only caod holds it now
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with Client(path, connect_timeout=2) as c:
                    status = c.call("daemon.status", timeout=10)
                break
            except Exception:
                assert proc.poll() is None, proc.stderr.read()
                assert time.monotonic() < deadline
                time.sleep(0.05)  # the socket accepts at once; caod answers once it has started
        assert status.pid == proc.pid and status.socket == str(path)
        with Client(path) as c:
            agent = c.call("agent.spawn", {"provider": "scripted", "cwd": str(ROOT)})
            c.call("agent.wait", {"agent": agent.id, "statuses": ["idle"], "timeout": 20}, timeout=30)
            # the agents must not think they were socket-activated themselves
            environ = open(f"/proc/{agent.pid}/environ", "rb").read()
            assert b"LISTEN_FDS=" not in environ and b"LISTEN_PID=" not in environ
    finally:
        err = stop(proc)
    assert proc.returncode == 0, err
    assert path.exists()  # the socket belongs to systemd: caod leaves it in place


def test_ready_and_stopping_are_sent_to_notify_socket(scratch):
    notify_path = scratch / "notify"
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(notify_path))
    notify.settimeout(20)
    env = base_env(scratch)
    env["CAOD_SOCKET"] = str(scratch / "caod.sock")
    env["NOTIFY_SOCKET"] = str(notify_path)
    proc = start_caod(env)
    try:
        ready = notify.recv(4096).decode()
        assert "READY=1" in ready.splitlines() and f"MAINPID={proc.pid}" in ready
        with Client(scratch / "caod.sock") as c:  # READY means it answers now
            assert c.call("daemon.ping").pid == proc.pid
    finally:
        stop(proc)
        stopping = notify.recv(4096).decode()
        notify.close()
    assert stopping == "STOPPING=1"


def test_logs_reach_the_journal_stream(scratch):
    env = base_env(scratch)
    env["CAOD_SOCKET"] = str(scratch / "caod.sock")
    env["JOURNAL_STREAM"] = "8:12345"  # what systemd sets when stderr is the journal
    proc = start_caod(env)
    deadline = time.monotonic() + 20
    while not (scratch / "caod.sock").exists():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    err = stop(proc)
    lines = [line for line in err.splitlines() if line.strip()]
    assert any("caod ready" in line for line in lines), err
    assert not any(line.lstrip().startswith("{") for line in lines)  # readable lines, not JSON
    assert "\x1b[" not in err  # no colours in the journal
    logged = [json.loads(line) for line in (scratch / "home" / "caod.log").read_text().splitlines()]
    assert any(entry["event"] == "caod ready" for entry in logged)  # and JSON lines in the file


def test_repository_units_are_the_generic_rendering():
    for name, text in {**service.systemd_units(generic=True), **service.launchd_plist(generic=True)}.items():
        assert (ROOT / "systemd" / name).read_text() == text, f"systemd/{name} is out of date"


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed")
def test_units_pass_systemd_analyze_verify(scratch):
    runtime = scratch / "runtime"
    runtime.mkdir(mode=0o700)
    for name, text in service.systemd_units().items():
        (scratch / name).write_text(text)
    env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime))
    r = subprocess.run(["systemd-analyze", "--user", "verify", str(scratch / "caod.socket"),
                        str(scratch / "caod.service")], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "" and r.stderr.strip() == "", (r.stdout, r.stderr)


def test_install_service_writes_units_and_says_how_to_enable(scratch):
    env = dict(os.environ, XDG_CONFIG_HOME=str(scratch / "config"), HOME=str(scratch))
    run = lambda *a: subprocess.run([sys.executable, "-m", "caoctl", "daemon", "install-service", *a],  # noqa: E731
                                    env=env, capture_output=True, text=True, timeout=60)
    printed = run("--print", "--systemd")
    assert printed.returncode == 0 and "[Socket]" in printed.stdout and "Type=notify" in printed.stdout
    assert not (scratch / "config").exists()  # --print writes nothing
    r = run("--systemd")
    assert r.returncode == 0, r.stderr
    unit_dir = scratch / "config" / "systemd" / "user"
    service_text = (unit_dir / "caod.service").read_text()
    assert f"ExecStart={service.caod_executable()} --log-level info" in service_text
    assert "Environment=PATH=" in service_text and (unit_dir / "caod.socket").exists()
    assert "systemctl --user daemon-reload && systemctl --user enable --now caod.socket" in r.stdout
    assert run("--systemd").returncode == 0  # the same content again is fine
    (unit_dir / "caod.service").write_text("edited by hand")
    refused = run("--systemd")
    assert refused.returncode == 1 and "exists and differs" in refused.stderr
    assert run("--systemd", "--force").returncode == 0
    r = run("--launchd", "--json")
    data = json.loads(r.stdout)
    plist = plistlib.loads(Path(data["written"][0]).read_bytes())
    assert plist["Label"] == "dev.caod" and plist["ProgramArguments"][0] == service.caod_executable()
    assert data["enable"].startswith("launchctl load -w ")
