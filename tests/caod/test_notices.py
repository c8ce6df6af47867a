"""Notices: a worker's prompt, error, exit, silence and stall reach its supervisor's inbox.

Scripted agents through a real daemon and the real MCP bridge: the supervisor's rules
call `assign` (and `handoff`) and answer a prompt a notice told it of; the workers'
rules ask for approval, fail, think long or answer without reporting. Each notice must
arrive once, within 1 s of the worker's event (its `ts` against the message's
`created_at`, both the daemon's clock).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from caod.notices import PREFIX
from caod.notices.texts import options

WORKER = r"^(?:\[message from \w+\] )?"  # an assigned task has the sender header, a handoff's not
REPORT_TO = r"(?s:.*)receiver_id=\"(?P<sup>\w+)\""

NOTICE_RULES = {"rules": [
    # the supervisor
    {"match": r"^assign: (?P<task>.+)$",
     "mcp_call": {"server": "caod", "tool": "assign", "args": {"agent_profile": "developer", "message": "{task}"}},
     "reply": "assigned {result_json}", "reply_error": "assign failed: {error}"},
    {"match": r"^delegate: (?P<task>.+)$",
     "mcp_call": {"server": "caod", "tool": "handoff", "args": {"agent_profile": "developer", "message": "{task}"}},
     "reply": "handoff said {result_json}", "reply_error": "handoff failed: {error}"},
    {"match": r"^\[caod notice about worker (?P<w>\w+) \(developer\)\] it is waiting for an answer",
     "mcp_call": {"server": "caod", "tool": "answer_user_prompt", "args": {"agent_id": "{w}", "answer": "1"}},
     "reply": "answered {w}", "reply_error": "answer failed: {error}"},
    {"match": r"^\[caod notice about worker (?P<w>\w+) ", "reply": "noted {w}"},
    # the workers
    {"match": WORKER + r"ask" + REPORT_TO, "approval": "run the test suite",
     "mcp_call": {"server": "caod", "tool": "send_message", "args": {"receiver_id": "{sup}", "message": "tests pass"}},
     "reply": "reported to {sup}"},
    {"match": WORKER + r"ask-in-handoff", "approval": "run the test suite", "reply": "tests pass"},
    {"match": WORKER + r"report" + REPORT_TO,
     "mcp_call": {"server": "caod", "tool": "send_message", "args": {"receiver_id": "{sup}", "message": "done"}},
     "reply": "reported to {sup}"},
    {"match": WORKER + r"fail", "error": "the model refused the request"},
    {"match": WORKER + r"quiet", "reply": "the answer is 42"},
    {"match": WORKER + r"hang", "reply": "hang done", "think": 60},
    # the supervisor again: a worker's own report
    {"match": r"^\[message from (?P<sender>\w+)\] (?P<body>.*)", "reply": "got message from {sender}: {body}"},
]}


@pytest.fixture
def team(daemon_factory):
    d = daemon_factory.new(start=False)
    d.env["CAO_SCRIPTED_RULES"] = json.dumps(NOTICE_RULES)
    d.env["CAOD_STALL_AFTER"] = "1.5s"  # a short stall time for the stall test
    return d.start()


def launch(c, wait_status):
    sup = c.call("session.launch", {"profile": "code_supervisor", "provider": "scripted", "session": "n1",
                                    "cwd": "/tmp"}, timeout=30).supervisor.id
    wait_status(c, sup, "idle", timeout=20)
    return sup


def assign(c, sup, task):
    """The supervisor assigns `task` through its MCP bridge; the worker's id."""
    r = c.call("agent.send", {"agent": sup, "text": f"assign: {task}", "wait": True, "timeout": 60}, timeout=70)
    assert r.ended.value == "completed" and r.answer.startswith("assigned "), r.answer
    return json.loads(r.answer.removeprefix("assigned "))["agent_id"]


def notices(c, sup):
    return [m for m in c.call("inbox.list", {"agent": sup}).messages if m.sender == "caod"]


def the_event(c, agent, pred):
    found = [e for e in c.call("events.list", {"agent": agent, "limit": 1000}).events if pred(e)]
    assert len(found) == 1, found
    return found[0]


def status_event(c, agent, status):
    return the_event(c, agent, lambda e: e.kind.value == "status" and e.new.value == status)


def one_notice(c, sup, worker, wait_for, kind):
    """The one notice about `worker`, once the supervisor has taken it in (no copy follows)."""
    head = PREFIX.format(id=worker, profile="developer")
    wait_for(lambda: [m for m in notices(c, sup) if m.status == "acknowledged"], f"{kind} notice taken")
    found = [m for m in notices(c, sup) if m.body.startswith(head)]
    assert len(found) == 1, [m.body for m in notices(c, sup)]
    queued = the_event(c, sup, lambda e: e.kind.value == "message" and e.detail.get("id") == found[0].id
                       and e.detail.get("state") == "queued")
    assert (queued.detail["from"], queued.detail["notice"], queued.detail["worker"]) == ("caod", kind, worker)
    return found[0]


def test_a_worker_at_a_prompt_is_noticed_and_answered_through_the_notice(team, wait_status, wait_for):
    c = team.client()
    sup = launch(c, wait_status)
    worker = assign(c, sup, "ask for approval")
    # the supervisor's rule answers the notice with answer_user_prompt; the worker then reports
    wait_for(lambda: any(m.sender == worker for m in c.call("inbox.list", {"agent": sup}).messages),
             "the worker's report after the answer", timeout=30)
    notice = one_notice(c, sup, worker, wait_for, "waiting")
    asked = status_event(c, worker, "waiting_user_answer")
    assert 0 <= notice.created_at - asked.ts < 1.0
    assert "? Do you want to proceed? run the test suite" in notice.body
    assert "Options: 1. Yes | 2. No" in notice.body
    assert f'answer_user_prompt tool with agent_id="{worker}"' in notice.body
    wait_status(c, sup, "completed", timeout=20)
    history = c.call("agent.output", {"agent": sup, "mode": "history"}).text
    assert f"answered {worker}" in history and f"got message from {worker}: tests pass" in history
    assert len(notices(c, sup)) == 1  # reporting back is no news: nothing more


def test_a_worker_that_errors_is_noticed_with_its_screen(team, wait_status, wait_for):
    c = team.client()
    sup = launch(c, wait_status)
    worker = assign(c, sup, "fail now")
    notice = one_notice(c, sup, worker, wait_for, "error")
    failed = status_event(c, worker, "error")
    assert 0 <= notice.created_at - failed.ts < 1.0
    assert "it is in error before it reported back to you" in notice.body
    assert "the model refused the request" in notice.body


def test_a_worker_killed_with_sigkill_is_noticed(team, wait_status, wait_for):
    c = team.client()
    sup = launch(c, wait_status)
    worker = assign(c, sup, "hang for a while")
    info = wait_status(c, worker, "processing", timeout=20)
    os.kill(info.pid, signal.SIGKILL)
    notice = one_notice(c, sup, worker, wait_for, "exited")
    gone = status_event(c, worker, "exited")
    assert 0 <= notice.created_at - gone.ts < 1.0
    assert "it exited (signal 9) before it reported back to you" in notice.body
    assert "hang for a while" in notice.body  # its screen as it was last


def test_a_worker_that_never_reports_has_its_answer_forwarded(team, wait_status, wait_for):
    c = team.client()
    sup = launch(c, wait_status)
    worker = assign(c, sup, "quiet please")
    notice = one_notice(c, sup, worker, wait_for, "unreported")
    done = status_event(c, worker, "completed")
    assert 0 <= notice.created_at - done.ts < 1.0
    assert "without calling send_message" in notice.body
    assert notice.body.endswith("\nthe answer is 42")
    # a worker that does report back gets no notice
    reporter = assign(c, sup, "report when done")
    wait_for(lambda: any(m.sender == reporter and m.status == "acknowledged"
                         for m in c.call("inbox.list", {"agent": sup}).messages), "the report", timeout=30)
    wait_status(c, reporter, "completed", timeout=20)
    assert [m.body.split("]")[0] for m in notices(c, sup)] == [f"[caod notice about worker {worker} (developer)"]


def test_a_stalled_worker_is_noticed_once_per_stall(team, wait_status, wait_for, events_until):
    c = team.client()
    sup = launch(c, wait_status)
    worker = assign(c, sup, "hang for a while")
    info = wait_status(c, worker, "processing", timeout=20)
    time.sleep(3.0)  # busy, and drawing its spinner: output re-arms the 1.5 s timer, no stall
    assert not [e for e in c.call("events.list", {"agent": worker}).events if e.kind.value == "stalled"]
    watcher = team.client()
    watcher.call("events.subscribe", {"agent": worker})
    os.kill(info.pid, signal.SIGSTOP)  # frozen: still `processing`, no output
    stopped_at = time.time()
    try:
        stalled = events_until(watcher, lambda e: e.kind.value == "stalled", timeout=10)[-1]
        assert 1.0 < stalled.ts - stopped_at < 3.0  # 1.5 s after its last output
        assert stalled.detail["after_s"] == 1.5 and "hang for a while" in stalled.detail["screen"]
        notice = one_notice(c, sup, worker, wait_for, "stalled")
        assert 0 <= notice.created_at - stalled.ts < 1.0
        assert "it is stalled: busy with no output at all for 1.5 s" in notice.body
    finally:
        os.kill(info.pid, signal.SIGCONT)
    time.sleep(2.5)  # moving again: no second stall
    assert len([e for e in c.call("events.list", {"agent": worker}).events if e.kind.value == "stalled"]) == 1
    assert len(notices(c, sup)) == 1
    # people see it too
    assert " stalled  after_s=1.5 screen=" in caoctl(team, "events", "--agent", worker)
    assert f"notice=stalled worker={worker}" in caoctl(team, "events", "--agent", sup)
    rows = {r["id"]: r for r in json.loads(caoctl(team, "watch", "--once", "--json"))}
    assert rows[worker]["last_event"] == "stalled" and rows[worker]["status"] == "processing"


def test_no_notice_for_a_prompt_a_waiting_handoff_returns(team, wait_status, wait_for):
    c = team.client()
    sup = launch(c, wait_status)
    c.call("agent.send", {"agent": sup, "text": "delegate: ask-in-handoff"})
    worker = wait_for(lambda: [a.id for a in c.call("agent.list", {}).agents if a.parent == sup], "the worker")[0]
    wait_for(lambda: [e for e in c.call("events.list", {"agent": worker}).events
                      if e.kind.value == "status" and e.new.value == "waiting_user_answer"], "the prompt")
    time.sleep(1.5)  # a notice would be stored within 1 s
    assert notices(c, sup) == []


def test_no_notice_about_workers_stopped_with_their_session(team, wait_status, wait_for):
    c = team.client()
    sup = launch(c, wait_status)
    worker = assign(c, sup, "hang for a while")
    wait_status(c, worker, "processing", timeout=20)
    c.call("session.shutdown", {"session": "n1"}, timeout=30)
    assert c.call("agent.get", {"agent": worker}).status.value == "exited"
    time.sleep(1.0)  # a notice would be stored within 1 s
    assert notices(c, sup) == []


def test_who_owes_a_report_outlives_a_daemon_restart(team, daemon_factory, wait_status, wait_for):
    """kill -9 of the daemon mid-task: the relaunched worker lost its turn (its parent is told
    so, once), and it still owes a report, so its later exit is news to its parent."""
    c = team.client()
    sup = launch(c, wait_status)
    worker = assign(c, sup, "hang for a while")
    wait_status(c, worker, "processing", timeout=20)
    team.kill()
    again = daemon_factory.same(team, start=False)
    again.env.update({k: team.env[k] for k in ("CAO_SCRIPTED_RULES", "CAOD_STALL_AFTER")})
    c = again.start().client()
    restarted = one_notice(c, sup, worker, wait_for, "restarted")
    assert "caod was restarted and started it again" in restarted.body
    info = wait_status(c, worker, "idle", timeout=30)  # relaunched, its turn gone
    os.kill(info.pid, signal.SIGKILL)
    head = PREFIX.format(id=worker, profile="developer")
    wait_for(lambda: len([m for m in notices(c, sup) if m.body.startswith(head)]) == 2, "the exit notice")
    time.sleep(1.0)  # a copy would be stored within 1 s
    bodies = [m.body for m in notices(c, sup) if m.body.startswith(head)]
    assert len(bodies) == 2 and "it exited (signal 9) before it reported back to you" in bodies[1], bodies


def caoctl(team, *args):
    r = subprocess.run([sys.executable, "-m", "caoctl", *args], env=team.env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_options_are_read_from_the_prompts_of_several_clis():
    assert options("? Do you want to proceed? rm x\n❯ 1. Yes\n  2. No\n  (press 1 or 2 · esc to cancel)") == \
        ["1. Yes", "2. No"]
    assert options("Allow execution of 'ls'?\n● 1. Allow once\n○ 2. Allow always\n  3) No, suggest changes") == \
        ["1. Allow once", "2. Allow always", "3) No, suggest changes"]
    assert options("Would you like to run pytest?\n› 1. Yes, proceed\n  2. No") == ["1. Yes, proceed", "2. No"]
    assert options("Enter your API key:") == []


def test_a_providers_stall_time_wins_over_the_daemons_default():
    from types import SimpleNamespace

    from caod.notices.stall import DEFAULT_STALL_S, StallWatch
    from caod.status import Status
    from providers.base import Pattern, Provider

    def agent(stall_ms):
        spec = Provider(name="p", description="d", command=["true"], stall_ms=stall_ms,
                        patterns=[Pattern(Status.IDLE, "^> ")])
        return SimpleNamespace(provider=spec.compiled())

    watch = StallWatch(lambda _agent, _seconds: None)
    assert watch.stall_s(agent(None)) == DEFAULT_STALL_S == 180
    assert watch.stall_s(agent(600_000)) == 600 and watch.stall_s(agent(0)) is None  # 0: never stalled
    watch.default_s = 1.0  # caod --stall-after 1s
    assert watch.stall_s(agent(None)) == 1.0 and watch.stall_s(agent(2500)) == 2.5
