"""Exited agents stay queryable from SQLite: after they leave memory and across restarts."""

from __future__ import annotations

import sqlite3
import time

import pytest

from caoctl.client import RpcFailure
from caod.protocol import ErrorCode
from caod.status import Status

TURN = {"rules": [{"match": "^say (?P<w>\\w+)$", "reply": "said {w}"}]}


def output(client, agent, mode="screen"):
    return client.call("agent.output", {"agent": agent, "mode": mode}).text


def refused(client, method, params, code):
    with pytest.raises(RpcFailure) as err:
        client.call(method, params, timeout=30)
    assert err.value.code == code, err.value
    return err.value


def test_exited_agents_are_queryable_after_a_restart(daemon, daemon_factory, ready_agent, send):
    c = daemon.client()
    killed = ready_agent(c, TURN, name="keeper")
    assert send(c, killed.id, "say hello").answer == "said hello"
    c.call("agent.kill", {"agent": "keeper"}, timeout=20)
    running = ready_agent(c, TURN)  # still running when the daemon stops: stopped with it
    assert send(c, running.id, "say later").answer == "said later"
    assert daemon.stop() == 0

    c2 = daemon_factory.same(daemon).client()
    info = c2.call("agent.get", {"agent": "keeper"})
    assert (info.id, info.status, info.exit_code, info.exit_signal) == (killed.id, Status.EXITED, 143, None)
    assert (info.provider, info.cwd, info.rows, info.cols) == (killed.provider, killed.cwd, killed.rows, killed.cols)
    assert info.command == killed.command  # the argv as it was, not split on spaces
    assert c2.call("agent.get", {"agent": killed.id[:5]}).id == killed.id  # an id prefix too
    assert output(c2, "keeper", "last") == "said hello"
    assert "● said hello" in output(c2, "keeper")
    assert "scripted-agent" in output(c2, "keeper", "history")  # the banner, scrolled or not
    assert output(c2, running.id, "last") == "said later"
    assert c2.call("agent.get", {"agent": running.id}).status is Status.EXITED

    listed = {a.id: a.status for a in c2.call("agent.list", {}).agents}
    assert listed == {killed.id: Status.EXITED, running.id: Status.EXITED}
    assert c2.call("agent.list", {"live_only": True}).agents == []
    status = c2.call("daemon.status", {})
    assert (status.agents, status.agents_live) == (2, 0)

    # What needs a running agent says it exited (not "no such agent"), with how it ended.
    err = refused(c2, "agent.send", {"agent": "keeper", "text": "hi"}, ErrorCode.AGENT_EXITED)
    assert err.data["exit_code"] == 143 and "said hello" in err.data["screen"]
    refused(c2, "agent.wait", {"agent": "keeper", "statuses": ["idle"]}, ErrorCode.AGENT_EXITED)
    refused(c2, "inbox.send", {"receiver": "keeper", "message": "hi"}, ErrorCode.AGENT_EXITED)
    refused(c2, "agent.resize", {"agent": "keeper", "rows": 30, "cols": 100}, ErrorCode.AGENT_EXITED)
    assert c2.call("agent.wait", {"agent": "keeper", "statuses": ["exited"]}).id == killed.id
    assert c2.call("agent.kill", {"agent": "keeper"}).exit_code == 143
    assert c2.call("events.list", {"agent": "keeper"}).events[-1].new is Status.EXITED
    assert c2.call("inbox.list", {"agent": "keeper"}).messages == []
    refused(c2, "agent.get", {"agent": "nobody"}, ErrorCode.NO_SUCH_AGENT)


def test_the_last_turn_survives_kill_9(daemon, daemon_factory, ready_agent, send):
    c = daemon.client()
    answered = ready_agent(c, TURN)
    assert send(c, answered.id, "say kept").answer == "said kept"
    untouched = ready_agent(c, TURN)  # no turn: nothing stored but its row and transcript
    daemon.agent_pids.update({answered.pid, untouched.pid})
    daemon.kill()

    c2 = daemon_factory.same(daemon).client()
    info = c2.call("agent.get", {"agent": answered.id})
    assert info.status is Status.EXITED and info.reason == "the daemon that ran this agent stopped"
    assert output(c2, answered.id, "last") == "said kept"  # stored when the turn completed
    assert "● said kept" in output(c2, answered.id)
    # No screen was stored: it is rebuilt from the transcript.
    assert output(c2, untouched.id).splitlines()[-1] == "  ready · ? for help"
    assert "scripted-agent" in output(c2, untouched.id, "history")
    assert output(c2, untouched.id, "last") is None


def test_a_name_is_free_once_its_agent_exited(daemon, daemon_factory, ready_agent):
    c = daemon.client()
    first = ready_agent(c, name="w")
    refused(c, "agent.spawn", {"provider": "scripted", "name": "w"}, ErrorCode.NAME_TAKEN)
    c.call("agent.kill", {"agent": "w"}, timeout=20)
    second = ready_agent(c, name="w")
    assert c.call("agent.get", {"agent": "w"}).id == second.id  # the live one
    c.call("agent.kill", {"agent": "w"}, timeout=20)
    assert c.call("agent.get", {"agent": "w"}).id == second.id  # then the newest
    assert c.call("agent.get", {"agent": first.id}).status is Status.EXITED
    assert daemon.stop() == 0

    c2 = daemon_factory.same(daemon).client()
    assert c2.call("agent.get", {"agent": "w"}).id == second.id
    third = ready_agent(c2, name="w")
    assert c2.call("agent.get", {"agent": "w"}).id == third.id


# The agents table as caod wrote it before schema 3 (no reason, answer, screen, history).
V2_AGENTS = """CREATE TABLE agents (id TEXT PRIMARY KEY, name TEXT, provider TEXT NOT NULL, cwd TEXT NOT NULL,
    command TEXT NOT NULL, pid INTEGER, status TEXT NOT NULL, status_since REAL NOT NULL, created_at REAL NOT NULL,
    rows INTEGER NOT NULL, cols INTEGER NOT NULL, exit_code INTEGER, exit_signal INTEGER, transcript TEXT,
    session TEXT, profile TEXT, role TEXT, parent TEXT, spec TEXT)"""


def test_agents_of_an_older_database_are_read_and_shown_from_their_transcripts(daemon_factory):
    d = daemon_factory.new(start=False)
    d.home.mkdir(mode=0o700, exist_ok=True)  # caod refuses a home others can read
    (d.home / "transcripts").mkdir(mode=0o700)
    transcript = d.home / "transcripts" / "0ld0ld00.log"
    transcript.write_bytes(b"\x1b[2J\x1b[Hhello from before\r\n\x1b[1mbye\x1b[0m\r\n")
    db = sqlite3.connect(d.home / "caod.db")
    db.execute(V2_AGENTS)
    db.execute("INSERT INTO agents VALUES ('0ld0ld00', 'old', 'scripted', '/tmp', 'python -m providers.scripted_cli',"
               " 1, 'exited', ?, ?, 10, 40, 0, NULL, ?, NULL, NULL, NULL, NULL, NULL)",
               (time.time() - 60, time.time() - 120, str(transcript)))  # within the 7 days kept
    db.execute("PRAGMA user_version=2")
    db.commit()
    db.close()
    c = d.start().client()
    info = c.call("agent.get", {"agent": "old"})
    assert (info.id, info.status, info.exit_code, info.rows, info.cols) == ("0ld0ld00", Status.EXITED, 0, 10, 40)
    assert info.command == ["python", "-m", "providers.scripted_cli"]
    assert output(c, "old") == "hello from before\nbye"
    assert output(c, "old", "last") is None
    assert c.call("daemon.status", {}).agents == 1
