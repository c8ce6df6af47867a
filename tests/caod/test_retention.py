"""agent.gc and automatic retention: exited agents' rows, folders and transcripts go; nothing else."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from caoctl.client import RpcFailure
from caod.protocol import ErrorCode
from caod.status import Status

HOUR = 3600.0


def files_of(daemon, agent_id):
    return [daemon.home / "agents" / agent_id, daemon.home / "transcripts" / f"{agent_id}.log"]


def gone(client, agent_id) -> bool:
    try:
        client.call("agent.get", {"agent": agent_id})
    except RpcFailure as e:
        assert e.code == ErrorCode.NO_SUCH_AGENT
        return True
    return False


def test_gc_removes_exited_agents_and_only_them(daemon, ready_agent, send):
    c = daemon.client()
    old = ready_agent(c, name="old")
    send(c, old.id, "hello")
    c.call("agent.kill", {"agent": old.id}, timeout=20)
    live = ready_agent(c, name="live")
    assert all(p.exists() for p in files_of(daemon, old.id) + files_of(daemon, live.id))

    dry = c.call("agent.gc", {"dry_run": True})
    assert dry.dry_run and [(a.id, a.name) for a in dry.agents] == [(old.id, "old")]
    assert dry.agents[0].bytes > 0 and dry.bytes >= dry.agents[0].bytes
    assert all(p.exists() for p in files_of(daemon, old.id))
    assert c.call("agent.get", {"agent": old.id}).status is Status.EXITED
    assert c.call("agent.gc", {"older_than": HOUR}).agents == []  # it exited just now

    done = c.call("agent.gc", {})
    assert not done.dry_run and [a.id for a in done.agents] == [old.id]
    assert not any(p.exists() for p in files_of(daemon, old.id))
    assert gone(c, old.id) and gone(c, "old")
    assert c.call("events.list", {}).events  # numbering goes on from the newest event kept
    assert all(p.exists() for p in files_of(daemon, live.id))
    assert c.call("agent.get", {"agent": "live"}).status is Status.IDLE
    assert send(c, live.id, "still here").answer == "echo: still here"
    status = c.call("daemon.status", {})
    assert (status.agents, status.agents_live) == (1, 1)
    with pytest.raises(RpcFailure) as err:
        c.call("agent.gc", {"older_than": -1})
    assert err.value.code == ErrorCode.INVALID_PARAMS


def test_gc_keeps_the_agents_of_an_active_session(daemon, wait_status):
    c = daemon.client()
    launched = c.call("session.launch", {"profile": "developer", "provider": "scripted", "session": "s1",
                                         "cwd": "/tmp"}, timeout=30)
    sup = launched.supervisor.id
    wait_status(c, sup, "idle", timeout=20)
    c.call("agent.kill", {"agent": sup}, timeout=20)
    assert c.call("agent.gc", {}).agents == []  # the session may start it again after a restart
    assert c.call("agent.get", {"agent": sup}).status is Status.EXITED
    assert [a.id for a in c.call("session.get", {"session": "s1"}).agents] == [sup]
    c.call("session.shutdown", {"session": "s1"}, timeout=30)
    assert [a.id for a in c.call("agent.gc", {}).agents] == [sup]
    assert gone(c, sup) and not any(p.exists() for p in files_of(daemon, sup))


def test_gc_removes_old_leftover_files_and_never_follows_a_link(daemon, tmp_path):
    c = daemon.client()
    agents, transcripts = daemon.home / "agents", daemon.home / "transcripts"
    transcripts.mkdir(mode=0o700, exist_ok=True)
    agents.mkdir(mode=0o700, exist_ok=True)
    stale_dir, stale_log = agents / "deadbeef", transcripts / "deadbeef.log"
    (stale_dir / "home").mkdir(parents=True)
    (stale_dir / "mcp.json").write_text("{}")
    stale_log.write_text("old output")
    fresh_dir = agents / "cafe0001"  # a spawn may be writing it: too new to touch
    fresh_dir.mkdir()
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine")
    link = agents / "0dd11111"
    link.symlink_to(outside)
    old = time.time() - 2 * HOUR
    for path in (stale_dir, stale_log, link):
        os.utime(path, (old, old), follow_symlinks=False)

    dry = c.call("agent.gc", {"dry_run": True})
    assert sorted(dry.leftovers) == sorted(map(str, (stale_dir, stale_log, link)))
    assert stale_dir.exists() and link.is_symlink()
    done = c.call("agent.gc", {})
    assert sorted(done.leftovers) == sorted(map(str, (stale_dir, stale_log, link)))
    assert not stale_dir.exists() and not stale_log.exists() and not os.path.lexists(link)
    assert fresh_dir.exists()
    assert (outside / "keep.txt").read_text() == "mine"  # the link went, not what it pointed at


def test_exited_agents_are_removed_by_themselves_after_the_limit(daemon_factory, ready_agent):
    d = daemon_factory.new(start=False).start(["--keep-exited", "1s"])
    c = d.client()
    info = ready_agent(c)
    exited = c.call("agent.kill", {"agent": info.id}, timeout=20)
    kept_alive = ready_agent(c)
    deadline = time.monotonic() + 20
    while not gone(c, info.id):  # test-side pacing; the daemon runs a one-shot timer
        assert time.monotonic() < deadline, "the exited agent was never removed"
        time.sleep(0.05)
    assert time.time() - exited.status_since >= 1.0  # not before the limit
    assert not any(p.exists() for p in files_of(d, info.id))
    assert c.call("agent.get", {"agent": kept_alive.id}).status is Status.IDLE
    assert all(p.exists() for p in files_of(d, kept_alive.id))


def test_a_bad_keep_exited_is_refused_at_start(tmp_path):
    r = subprocess.run([sys.executable, "-m", "caod", "--keep-exited", "soon", "--home", str(tmp_path / "h"),
                        "--socket", str(tmp_path / "s.sock")], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "bad duration 'soon'" in r.stderr, r
