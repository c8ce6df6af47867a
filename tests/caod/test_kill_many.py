"""agent.kill (SIGTERM, then SIGKILL after the grace) and many agents at once."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from caoctl.client import Client, RpcFailure
from caod.protocol import ErrorCode
from caod.status import EventKind, Signal, Status


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_kill_terminates(client, ready_agent):
    info = ready_agent(client)
    killed = client.call("agent.kill", {"agent": info.id}, timeout=20)
    assert killed.status is Status.EXITED
    # the scripted agent handles SIGTERM and exits 128+15; the daemon reaped it
    assert (killed.exit_code, killed.exit_signal) == (128 + signal.SIGTERM, None)
    assert gone(info.pid)
    last = client.call("events.list", {"agent": info.id}).events[-1]
    assert (last.kind, last.new, last.signal) == (EventKind.STATUS, Status.EXITED, Signal.PROCESS)
    assert last.detail == {"exit_code": 143, "exit_signal": None}


def test_kill_mid_turn(client, ready_agent):
    info = ready_agent(client, {"rules": [{"match": ".", "reply": "never", "think": 30}]})
    client.call("agent.send", {"agent": info.id, "text": "work"})
    client.call("agent.wait", {"agent": info.id, "statuses": ["processing"], "timeout": 10})
    killed = client.call("agent.kill", {"agent": info.id, "grace": 5}, timeout=20)
    assert killed.status is Status.EXITED and killed.exit_code == 143
    assert gone(info.pid)


def test_child_ignoring_sigterm_is_killed_after_the_grace(client, ready_agent):
    info = ready_agent(client)
    # A stopped process cannot act on SIGTERM (it stays pending); only SIGKILL ends it.
    os.kill(info.pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        killed = client.call("agent.kill", {"agent": info.id, "grace": 0.6}, timeout=20)
        took = time.monotonic() - t0
    finally:
        if not gone(info.pid):
            os.kill(info.pid, signal.SIGKILL)
    assert killed.status is Status.EXITED
    assert (killed.exit_code, killed.exit_signal) == (None, signal.SIGKILL)
    assert took >= 0.5  # it waited for the grace first
    assert gone(info.pid)


def test_kill_is_idempotent_and_by_name(client, ready_agent):
    info = ready_agent(client, name="victim")
    first = client.call("agent.kill", {"agent": "victim"}, timeout=20)
    assert first.id == info.id and first.status is Status.EXITED
    again = client.call("agent.kill", {"agent": info.id}, timeout=20)
    assert (again.status, again.exit_code) == (Status.EXITED, first.exit_code)
    exits = [e for e in client.call("events.list", {"agent": info.id}).events if e.new is Status.EXITED]
    assert len(exits) == 1
    # the name is free again for a new live agent
    assert ready_agent(client, name="victim").id != info.id


def test_kill_bad_grace(client, ready_agent):
    info = ready_agent(client)
    with pytest.raises(RpcFailure) as err:
        client.call("agent.kill", {"agent": info.id, "grace": -1})
    assert err.value.code == ErrorCode.INVALID_PARAMS
    assert client.call("agent.get", {"agent": info.id}).status is Status.IDLE


def test_send_to_a_killed_agent(client, ready_agent):
    info = ready_agent(client)
    client.call("agent.kill", {"agent": info.id}, timeout=20)
    with pytest.raises(RpcFailure) as err:
        client.call("agent.send", {"agent": info.id, "text": "hello?"})
    assert err.value.code == ErrorCode.AGENT_EXITED
    assert err.value.data["exit_code"] == 143


N_AGENTS = 20


def test_twenty_agents_at_once(daemon, spawn_scripted):
    rules = {"rules": [{"match": "^who are you, (?P<n>\\d+)\\?$", "reply": "I am agent {n}", "think": 0.3}]}
    boss = daemon.client()
    agents = [spawn_scripted(boss, rules, name=f"worker-{n}") for n in range(N_AGENTS)]
    assert len({a.id for a in agents}) == N_AGENTS
    assert len({a.pid for a in agents}) == N_AGENTS

    def one_turn(n: int) -> tuple[int, str | None, Status | None]:
        with Client(daemon.socket) as c:  # one connection each: the turns overlap
            r = c.call("agent.send", {"agent": f"worker-{n}", "text": f"who are you, {n}?", "wait": True,
                                      "timeout": 60}, timeout=90)
            return n, r.answer, r.ended

    with ThreadPoolExecutor(N_AGENTS) as pool:
        results = list(pool.map(one_turn, range(N_AGENTS)))
    assert results == [(n, f"I am agent {n}", Status.COMPLETED) for n in range(N_AGENTS)]
    listed = boss.call("agent.list", {"live_only": True}).agents
    assert sorted(a.name for a in listed) == sorted(f"worker-{n}" for n in range(N_AGENTS))
    assert all(a.status is Status.COMPLETED for a in listed)
    for n, a in enumerate(agents):
        out = boss.call("agent.output", {"agent": a.id, "mode": "last"})
        assert out.text == f"I am agent {n}"
    status = boss.call("daemon.status")
    assert (status.agents, status.agents_live) == (N_AGENTS, N_AGENTS)
