"""A full disk under a running daemon (its home on a 3 MB tmpfs, filled up): the call that
cannot be stored fails at once with a clear error, reads are still answered, the agent's
status is still read, and once space is freed the daemon goes on by itself, with nothing
stored that was refused and the status records of the outage not lost.

Mounting needs root (or CAP_SYS_ADMIN); where it is refused the test is skipped and says so.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from caoctl.client import RpcFailure
from caod.protocol import ErrorCode

SIZE = "3m"


@pytest.fixture
def small_disk():
    mount = shutil.which("mount")
    if mount is None:
        pytest.skip("no mount command: the full-disk test needs a small tmpfs")
    point = Path(tempfile.mkdtemp(prefix="caodfs-", dir="/tmp"))
    done = subprocess.run([mount, "-t", "tmpfs", "-o", f"size={SIZE},mode=0700", "tmpfs", str(point)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        point.rmdir()
        pytest.skip(f"cannot mount a {SIZE} tmpfs here (needs root or CAP_SYS_ADMIN): "
                    f"{done.stderr.strip() or done.returncode}")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], capture_output=True)
        point.rmdir()


@pytest.fixture
def daemon_on_small_disk(small_disk, daemon_factory):
    """A daemon whose home (database, log, transcripts) is on the small disk; its stderr is not."""
    d = daemon_factory.new(start=False)
    d.home = small_disk / "home"
    d.env["CAOD_HOME"] = str(d.home)
    return d.start()


def fill(path: Path, create: bool = True) -> Path:
    """Append to `path` until the disk takes no more bytes."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | (os.O_CREAT if create else 0), 0o600)
    try:
        for size in (1 << 20, 1 << 16, 1 << 12, 1):
            chunk = b"\n" * size
            while True:
                try:
                    os.write(fd, chunk)
                except OSError as e:
                    assert e.errno == errno.ENOSPC, e
                    break
    finally:
        os.close(fd)
    return path


def messages(c, agent: str) -> list[tuple[str, str]]:
    return [(m.body, m.status) for m in c.call("inbox.list", {"agent": agent}, timeout=10).messages]


def test_a_full_disk_fails_what_cannot_be_stored_serves_reads_and_recovers(wait_for, daemon_on_small_disk, daemon_factory,
                                                                          ready_agent, wait_status):
    d = daemon_on_small_disk
    db = d.home / "caod.db"
    c = d.client()
    agent = ready_agent(c).id
    c.call("inbox.send", {"receiver": agent, "message": "before"})
    wait_for(lambda: messages(c, agent) == [("before", "acknowledged")], "the first message acknowledged")
    events_before = c.call("events.list", {"agent": agent, "limit": 1000}).events[-1].seq

    filler = fill(d.home.parent / "filler")
    fill(d.home / "caod.log", create=False)  # and the room left in the log's last page: blank lines
    started = time.monotonic()
    with pytest.raises(RpcFailure) as refused:
        c.call("inbox.send", {"receiver": agent, "message": "refused " + "x" * 200_000}, timeout=10)
    assert refused.value.code == ErrorCode.STORAGE_FAILED
    assert refused.value.message == f"cannot store: no space left on device ({db})"
    assert time.monotonic() - started < 5

    # Reads are served; the agent still works and its status is still read from its screen.
    assert messages(c, agent) == [("before", "acknowledged")]
    assert [a.id for a in c.call("agent.list", {}).agents] == [agent]
    assert c.call("events.list", {"agent": agent, "limit": 5}).events
    c.call("daemon.status", {})
    c.call("agent.send", {"agent": agent, "text": "during the outage"})
    wait_for(lambda: "echo: during the outage" in c.call("agent.output", {"agent": agent, "mode": "history"}).text
             and c.call("agent.get", {"agent": agent}).status.value == "completed", "the turn completed")
    with pytest.raises(RpcFailure) as unsaved:  # told "completed", a caller relies on that row being stored
        wait_status(c, agent, "completed")
    assert unsaved.value.code == ErrorCode.STORAGE_FAILED

    filler.unlink()  # space returns: no restart, the next calls just work
    after = c.call("inbox.send", {"receiver": agent, "message": "after"}, timeout=10)
    assert after.status == "pending"
    wait_for(lambda: messages(c, agent) == [("before", "acknowledged"), ("after", "acknowledged")],
             "the message sent after the outage acknowledged")
    assert "echo: after" in c.call("agent.output", {"agent": agent, "mode": "history"}).text
    wait_status(c, agent, "completed")

    # The status records of the outage were kept and stored once there was room.
    outage = c.call("events.list", {"agent": agent, "since": events_before, "limit": 1000}).events
    assert [e.new.value for e in outage if e.kind.value == "status"][:2] == ["processing", "completed"]

    lines = [json.loads(line) for line in (d.home / "caod.log").read_text().splitlines() if line.startswith("{")]
    logged = [line["event"] for line in lines]
    assert "log lines were dropped: the log file could not be written" in logged
    assert "store writes succeed again" in logged

    # Committed means committed: a restart finds what was acknowledged, and not what was refused.
    assert d.stop() == 0
    again = daemon_factory.same(d)
    assert [m.body for m in again.client().call("inbox.list", {}).messages] == ["before", "after"]
