"""Folders and files the daemon makes and the ones it is given (caod.paths, caod.main's lock),
through a real daemon: ours are 0700/0600, a given folder is checked and never changed."""

from __future__ import annotations

import os
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOBODY = 65534
# The daemon runs under the loosest usual umask, so nothing passes by the umask's grace.
UMASK_022 = ["sh", "-c", 'umask 022 && exec "$@"', "sh"]
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to hand files to another uid")


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def refused(d, *expected: str) -> str:
    """The daemon exits 1 before listening, with one `caod: ...` line holding `expected`."""
    d.start(expect_ready=False)
    assert d.proc.wait(timeout=15) == 1, d.stderr()
    lines = d.stderr().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("caod: "), lines
    assert all(text in lines[0] for text in expected), lines[0]
    assert not d.socket.exists()
    return lines[0]


def test_everything_the_daemon_writes_is_private(daemon_factory, wait_status):
    d = daemon_factory.new(start=False)
    d.wrapper = UMASK_022
    d.home = d.home / "state" / "caod"  # missing parents too
    d.socket = d.socket_dir / "run" / "caod.sock"
    d.env.update(CAOD_HOME=str(d.home), CAOD_SOCKET=str(d.socket))
    d.start()
    c = d.client()
    c.call("profile.install", {"builtin": "reviewer"})
    launched = c.call("session.launch", {"profile": "developer", "provider": "scripted", "cwd": str(ROOT)},
                      timeout=30)
    agent = wait_status(c, launched.supervisor.id, "idle", timeout=20)
    c.call("agent.send", {"agent": agent.id, "text": "hello", "wait": True, "timeout": 20}, timeout=30)
    assert d.stop() == 0
    assert mode(d.socket.parent) == 0o700 and mode(d.socket_dir) == 0o700
    assert mode(d.home.parent) == 0o700  # a parent caod made, like ~/.local/state
    written = {p.relative_to(d.home).as_posix(): p for p in d.home.rglob("*")}
    for name in ("caod.db", "caod.log", "profiles/reviewer.md", f"transcripts/{agent.id}.log",
                 f"agents/{agent.id}/mcp.json", f"agents/{agent.id}/system_prompt.md"):
        assert name in written, sorted(written)
    loose = {name: oct(mode(p)) for name, p in written.items()
             if mode(p) != (0o700 if p.is_dir() else 0o600)}
    assert not loose, loose
    assert mode(d.home) == 0o700


def test_wal_files_are_private_while_the_daemon_runs(daemon_factory, ready_agent):
    d = daemon_factory.new(start=False)
    d.wrapper = UMASK_022
    d.start()
    ready_agent(d.client())
    for suffix in ("", "-wal", "-shm"):
        assert mode(d.home / f"caod.db{suffix}") == 0o600, suffix


def test_files_an_older_caod_left_readable_are_tightened(daemon_factory):
    d = daemon_factory.new(start=False)
    d.home.mkdir(mode=0o700)
    for name in ("caod.log", "caod.db", "caod.db-wal"):
        (d.home / name).touch(mode=0o644)
        os.chmod(d.home / name, 0o644)
    lock = d.socket.with_name("caod.sock.lock")
    lock.touch()
    os.chmod(lock, 0o644)
    d.start()
    assert {name: mode(d.home / name) for name in ("caod.log", "caod.db")} == {"caod.log": 0o600, "caod.db": 0o600}
    assert mode(lock) == 0o600


def test_a_home_others_can_enter_is_refused_and_left_as_it_is(daemon_factory):
    d = daemon_factory.new(start=False)
    d.home.mkdir(mode=0o755)
    os.chmod(d.home, 0o755)  # ~/project, say
    refused(d, f"{d.home} is 0755", f"chmod 700 {d.home}", "--home")
    assert mode(d.home) == 0o755
    assert list(d.home.iterdir()) == []


def test_caoctl_daemon_start_refuses_an_open_home_in_one_line(daemon_factory):
    d = daemon_factory.new(start=False)
    d.home.mkdir(mode=0o750)
    os.chmod(d.home, 0o750)
    r = subprocess.run([sys.executable, "-m", "caoctl", "daemon", "start", "--home", str(d.home)], env=d.env,
                       cwd=str(ROOT), capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [r.stderr.strip()] and "Traceback" not in r.stderr
    assert r.stderr.startswith(f"caoctl: {d.home} is 0750") and f"chmod 700 {d.home}" in r.stderr
    assert mode(d.home) == 0o750 and list(d.home.iterdir()) == []


@needs_root
def test_a_home_of_another_user_is_refused_and_left_as_it_is(daemon_factory):
    d = daemon_factory.new(start=False)
    d.home.mkdir(mode=0o700)
    os.chown(d.home, NOBODY, NOBODY)
    refused(d, f"{d.home} belongs to uid {NOBODY}, not to you")
    st = os.stat(d.home)
    assert (st.st_uid, mode(d.home)) == (NOBODY, 0o700)


def test_a_socket_folder_others_can_write_is_refused_and_left_as_it_is(daemon_factory):
    d = daemon_factory.new(start=False)
    os.chmod(d.socket_dir, 0o777)  # no sticky bit: anyone could swap the socket
    refused(d, f"the socket folder {d.socket_dir} is 0777", f"chmod 700 {d.socket_dir}")
    assert mode(d.socket_dir) == 0o777


def test_a_socket_in_a_shared_sticky_folder_is_allowed_and_the_folder_untouched(daemon_factory):
    d = daemon_factory.new(start=False)
    os.chmod(d.socket_dir, 0o1777)  # like /tmp
    d.start()
    assert d.client().call("daemon.ping").pid == d.pid
    assert mode(d.socket_dir) == 0o1777
    assert mode(d.socket) == 0o600 and mode(d.socket.with_name("caod.sock.lock")) == 0o600


@needs_root
@pytest.mark.skipif(not shutil.which("setpriv"), reason="needs setpriv to run the daemon as another user")
def test_a_user_daemon_with_its_socket_directly_in_tmp(daemon_factory):
    """`--socket /tmp/x.sock` as an ordinary user: /tmp is root's 1777; caod uses it as it is."""
    d = daemon_factory.new(start=False)
    os.chown(d.home.parent, NOBODY, NOBODY)  # the user's own state folder
    d.socket = Path("/tmp") / f"caod-test-{secrets.token_hex(4)}.sock"
    lock = d.socket.with_name(d.socket.name + ".lock")
    d.env["CAOD_SOCKET"] = str(d.socket)
    d.wrapper = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    before = os.stat("/tmp")
    try:
        d.start()
        st = os.lstat(d.socket)
        assert stat.S_ISSOCK(st.st_mode) and (st.st_uid, mode(d.socket)) == (NOBODY, 0o600)
        assert (os.lstat(lock).st_uid, mode(lock)) == (NOBODY, 0o600)
        after = os.stat("/tmp")
        assert (after.st_mode, after.st_uid) == (before.st_mode, before.st_uid)
        assert d.stop() == 0
        assert not d.socket.exists()
    finally:
        d.stop()
        for path in (d.socket, lock):
            if os.path.lexists(path):
                path.unlink()


def test_a_lock_file_that_is_a_symlink_is_refused_not_followed(daemon_factory):
    d = daemon_factory.new(start=False)
    victim = Path(tempfile.mkdtemp(prefix="caodv-", dir="/tmp")) / "precious"
    try:
        victim.write_text("precious\n")
        lock = d.socket.with_name("caod.sock.lock")
        lock.symlink_to(victim)
        refused(d, f"{lock} is a symbolic link", f"rm {lock}")
        assert victim.read_text() == "precious\n"
        d.stderr_path.write_text("")
        lock.unlink()
        lock.symlink_to(victim.with_name("made-through-the-link"))  # dangling: not created either
        refused(d, "is a symbolic link")
        assert not victim.with_name("made-through-the-link").exists()
    finally:
        shutil.rmtree(victim.parent)


@needs_root
def test_a_lock_file_of_another_user_is_refused(daemon_factory):
    d = daemon_factory.new(start=False)
    lock = d.socket.with_name("caod.sock.lock")
    lock.write_text("theirs\n")
    os.chmod(lock, 0o666)
    os.chown(lock, NOBODY, NOBODY)
    refused(d, f"{lock} belongs to uid {NOBODY}, not to you")
    assert lock.read_text() == "theirs\n" and mode(lock) == 0o666
