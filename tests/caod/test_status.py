"""Every status value, seen on a real daemon driving the scripted agent in a PTY."""

from __future__ import annotations

import os

import pytest

from caoctl.client import RpcFailure
from caod.protocol import ErrorCode
from caod.status import EventKind, Signal, Status

RULES = {
    "rules": [
        {"match": "^deploy$", "approval": "Deploy to prod?", "reply": "deployed", "reply_declined": "not deployed"},
        {"match": "^fail$", "error": "the tool crashed"},
        {"match": "^quit (?P<code>\\d+)$", "reply": "bye"},
        {"match": "^slow$", "reply": "slow done", "think": 1.0},
    ]
}


def exit_rules(code: int) -> dict:
    return {"rules": [{"match": "^quit$", "exit": code}, {"match": "^reply and quit$", "reply": "leaving", "exit": code}]}


def history(client, agent_id):
    return client.call("events.list", {"agent": agent_id, "limit": 1000}).events


def assert_chained(events):
    """Each status event starts where the previous one ended."""
    statuses = [e for e in events if e.kind is EventKind.STATUS]
    for prev, cur in zip(statuses, statuses[1:]):
        assert cur.old is prev.new, (prev, cur)
    assert [e.seq for e in events] == sorted(e.seq for e in events)


def test_starting_is_the_spawn_result_and_the_first_event(client, spawn_scripted, wait_status):
    info = spawn_scripted(client, env={"CAO_SCRIPTED_START_DELAY": "2"})
    assert info.status is Status.STARTING
    assert info.provider == "scripted" and info.pid and info.exit_code is None
    assert client.call("agent.get", {"agent": info.id}).status is Status.STARTING
    first = history(client, info.id)[0]
    assert first.kind is EventKind.SPAWNED
    assert (first.old, first.new, first.signal) == (None, Status.STARTING, Signal.PROCESS)
    assert first.detail["pid"] == info.pid and first.detail["provider"] == "scripted"
    idle = wait_status(client, info.id, "idle", timeout=15)
    assert idle.status is Status.IDLE and idle.status_since >= info.created_at
    second = history(client, info.id)[1]
    assert (second.old, second.new, second.signal) == (Status.STARTING, Status.IDLE, Signal.SCREEN)


def test_send_to_a_starting_agent_waits_until_it_is_ready(client, spawn_scripted, send):
    info = spawn_scripted(client, env={"CAO_SCRIPTED_START_DELAY": "0.5"})
    assert info.status is Status.STARTING
    result = send(client, info.id, "early bird")
    assert result.agent.status is Status.COMPLETED
    assert result.answer == "echo: early bird"


def test_idle_processing_completed(daemon, client, ready_agent, send, events_until):
    info = ready_agent(client, RULES)
    watcher = daemon.client()
    sub = watcher.call("events.subscribe", {"agent": info.id})
    result = send(client, info.id, "slow")
    assert result.answer == "slow done" and result.agent.status is Status.COMPLETED
    seen = events_until(watcher, lambda e: e.new is Status.COMPLETED)
    assert all(e.seq > sub.seq and e.agent == info.id for e in seen)
    assert [e.new for e in seen] == [Status.PROCESSING, Status.COMPLETED], seen
    assert seen[0].old is Status.IDLE
    assert seen[-1].signal is Signal.SCREEN
    # the stored history tells the same story
    stored = [e for e in history(client, info.id) if e.seq > sub.seq]
    assert [(e.seq, e.new) for e in stored] == [(e.seq, e.new) for e in seen]


def test_waiting_user_answer_approved(client, ready_agent, send, wait_status):
    info = ready_agent(client, RULES)
    result = send(client, info.id, "deploy")
    assert result.agent.status is Status.WAITING
    assert result.answer is None  # the turn is not over: a question is up
    assert wait_status(client, info.id, "waiting_user_answer").status is Status.WAITING
    screen = client.call("agent.output", {"agent": info.id}).text
    assert "Do you want to proceed? Deploy to prod?" in screen
    result = send(client, info.id, "1")
    assert result.agent.status is Status.COMPLETED
    assert result.answer == "deployed"
    assert "✓ approved" in client.call("agent.output", {"agent": info.id}).text


def test_waiting_user_answer_declined(client, ready_agent, send):
    info = ready_agent(client, RULES)
    assert send(client, info.id, "deploy").agent.status is Status.WAITING
    result = send(client, info.id, "2")
    assert result.agent.status is Status.COMPLETED
    assert result.answer == "not deployed"


def test_error_then_recovers(client, ready_agent, send):
    info = ready_agent(client, RULES)
    result = send(client, info.id, "fail")
    assert result.agent.status is Status.ERROR
    assert result.answer is None
    got = client.call("agent.get", {"agent": info.id})
    assert got.status is Status.ERROR and got.exit_code is None
    os.kill(got.pid, 0)  # an error screen, not a dead process
    assert "✗ error · the tool crashed" in client.call("agent.output", {"agent": info.id}).text
    # the agent takes a new task after an error
    result = send(client, info.id, "again")
    assert result.agent.status is Status.COMPLETED and result.answer == "echo: again"


@pytest.mark.parametrize("code", [0, 3, 255])
def test_exited_with_the_rule_exit_code(client, ready_agent, send, code):
    info = ready_agent(client, exit_rules(code))
    with pytest.raises(RpcFailure) as err:
        send(client, info.id, "quit")
    assert err.value.code == ErrorCode.AGENT_EXITED
    assert err.value.data["exit_code"] == code and err.value.data["exit_signal"] is None
    assert "Goodbye." in err.value.data["screen"]
    got = client.call("agent.get", {"agent": info.id})
    assert (got.status, got.exit_code, got.exit_signal) == (Status.EXITED, code, None)
    last = history(client, info.id)[-1]
    assert (last.new, last.signal) == (Status.EXITED, Signal.PROCESS)
    assert last.detail == {"exit_code": code, "exit_signal": None}
    # exited is terminal: waiting for it returns at once, live-only lists drop it
    assert client.call("agent.wait", {"agent": info.id, "statuses": ["exited"], "timeout": 1}).exit_code == code
    live = client.call("agent.list", {"live_only": True}).agents
    assert info.id not in [a.id for a in live]
    assert info.id in [a.id for a in client.call("agent.list", {}).agents]


def test_reply_then_exit(client, ready_agent, send, wait_status):
    for _ in range(3):  # the two frames race: try a few times
        info = ready_agent(client, exit_rules(4))
        try:
            result = send(client, info.id, "reply and quit")
        except RpcFailure as e:  # both frames came in one read: the exit ended the turn
            assert e.code == ErrorCode.AGENT_EXITED and e.data["exit_code"] == 4
        else:  # the answer shown when the turn completed, without the goodbye drawn after it
            assert (result.ended, result.answer) == (Status.COMPLETED, "leaving")
        got = wait_status(client, info.id, "exited")
        assert (got.exit_code, got.exit_signal) == (4, None)


def test_every_status_value_is_reached(client, ready_agent, send):
    info = ready_agent(client, {**RULES, "rules": RULES["rules"] + exit_rules(7)["rules"]})
    assert send(client, info.id, "hello").answer == "echo: hello"
    assert send(client, info.id, "deploy").agent.status is Status.WAITING
    assert send(client, info.id, "y").answer == "deployed"
    assert send(client, info.id, "fail").agent.status is Status.ERROR
    with pytest.raises(RpcFailure):
        send(client, info.id, "quit")
    events = history(client, info.id)
    assert_chained(events)
    assert {e.new for e in events} == set(Status)
    assert events[-1].new is Status.EXITED and events[-1].detail["exit_code"] == 7


def test_agent_wait_timeout_and_bad_arguments(client, ready_agent):
    info = ready_agent(client)
    with pytest.raises(RpcFailure) as err:
        client.call("agent.wait", {"agent": info.id, "statuses": ["processing"], "timeout": 0.3}, timeout=10)
    assert err.value.code == ErrorCode.TIMEOUT
    for bad in ({"statuses": []}, {"statuses": ["idle"], "timeout": 0}, {"statuses": ["sleeping"]}):
        with pytest.raises(RpcFailure) as err:
            client.call("agent.wait", {"agent": info.id, **bad}, timeout=10)
        assert err.value.code == ErrorCode.INVALID_PARAMS, bad
