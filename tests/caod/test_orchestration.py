"""Teams end to end: scripted agents call the real MCP bridge, which calls the daemon.

One rules file drives every agent of a session (supervisor and workers):
the supervisor's rules call MCP tools, the workers' rules answer or report
back with send_message. Path: agent -> MCP stdio -> caoctl mcp -> socket ->
daemon -> worker PTY, and back.
"""

from __future__ import annotations

import json
import re
import socket
import stat
import threading
import time

import pytest

from caoctl.client import RpcFailure
from caod.protocol import ErrorCode

TEAM_RULES = {"rules": [
    {"match": r"^delegate: (?P<task>.+)$",
     "mcp_call": {"server": "caod", "tool": "handoff", "args": {"agent_profile": "developer", "message": "{task}"}},
     "reply": "worker said: {result}", "reply_error": "handoff failed: {error}"},
    {"match": r"^delegate-json: (?P<task>.+)$",
     "mcp_call": {"server": "caod", "tool": "handoff", "args": {"agent_profile": "developer", "message": "{task}"}},
     "reply": "RESULT {result_json}", "reply_error": "handoff failed: {error}"},
    {"match": r"^delegate-1s: (?P<task>.+)$",
     "mcp_call": {"server": "caod", "tool": "handoff",
                  "args": {"agent_profile": "developer", "message": "{task}", "timeout": 1}},
     "reply": "RESULT {result_json}", "reply_error": "handoff failed: {error}"},
    {"match": r"^assign: (?P<task>.+)$",
     "mcp_call": {"server": "caod", "tool": "assign", "args": {"agent_profile": "reviewer", "message": "{task}"}},
     "reply": "assigned {result_json}", "reply_error": "assign failed: {error}"},
    {"match": r"try-handoff",
     "mcp_call": {"server": "caod", "tool": "handoff", "args": {"agent_profile": "developer", "message": "x"}},
     "reply": "unexpected: {result_json}", "reply_error": "refused: {error}"},
    # only an assignment (it carries the report-back instruction) triggers a report, sent to
    # the agent the instruction names (not the sender header), so a wrong id there shows
    {"match": r"^\[message from \w+\] review (?P<what>\w+)(?s:.*)report your result(?s:.*)receiver_id=\"(?P<sup>\w+)\"",
     "mcp_call": {"server": "caod", "tool": "send_message",
                  "args": {"receiver_id": "{sup}", "message": "review of {what}: LGTM"}},
     "reply": "reported to {sup}", "reply_error": "report failed: {error}"},
    {"match": r"^\[message from (?P<sender>\w+)\] (?P<body>.*)", "reply": "got message from {sender}: {body}"},
    {"match": r"^build (?P<what>\w+)", "reply": "built {what}: 3 files changed", "think": 0.2},
    {"match": r"^slow", "reply": "slow done", "think": 30},
    {"match": r"^busy (?P<n>\d+)", "reply": "busy {n} done", "think": 1.5},
]}


@pytest.fixture
def team(daemon_factory):
    """A daemon whose scripted agents all follow TEAM_RULES."""
    d = daemon_factory.new(start=False)
    d.env["CAO_SCRIPTED_RULES"] = json.dumps(TEAM_RULES)
    return d.start()


def launch(client, session="t1", task=None, profile="code_supervisor"):
    r = client.call("session.launch", {"profile": profile, "provider": "scripted", "session": session,
                                       "cwd": "/tmp", **({"task": task} if task else {})}, timeout=30)
    return r.supervisor.id


def turn(client, agent, text, timeout=60):
    r = client.call("agent.send", {"agent": agent, "text": text, "wait": True, "timeout": timeout},
                    timeout=timeout + 10)
    return r.ended.value, r.answer


def token_of(pid: int) -> str:
    """The agent's secret, read the way only its own user can: from its environment."""
    env = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
    return next(e.split(b"=", 1)[1].decode() for e in env if e.startswith(b"CAO_AGENT_TOKEN="))


def wait_messages(client, agent, statuses, timeout=60):
    """Until the messages to `agent` have exactly these statuses, in order (a copy would show)."""
    deadline = time.monotonic() + timeout
    while True:
        msgs = client.call("inbox.list", {"agent": agent}).messages
        if [m.status for m in msgs] == statuses:
            return msgs
        assert time.monotonic() < deadline, [(m.id, m.status) for m in msgs]
        time.sleep(0.05)  # test-side pacing only; the daemon delivers on status events


def wait_acknowledged(client, agent, count, timeout=60):
    """Until `count` messages to `agent` were delivered and their turns completed."""
    return wait_messages(client, agent, ["acknowledged"] * count, timeout)


def workers(client, sup):
    return [a for a in client.call("agent.list", {}).agents if a.parent == sup]


def test_handoff_returns_the_workers_exact_answer(team, wait_status):
    c = team.client()
    sup = launch(c)
    wait_status(c, sup, "idle", timeout=20)
    ended, answer = turn(c, sup, "delegate: build parser")
    assert (ended, answer) == ("completed", "worker said: built parser: 3 files changed")
    (worker,) = workers(c, sup)
    assert worker.profile == "developer" and worker.role == "developer" and worker.session == "t1"
    info = wait_status(c, worker.id, "exited", timeout=20)  # ended after its answer was read
    assert info.exit_code is not None or info.exit_signal is not None
    with pytest.raises(RpcFailure) as e:  # nothing is queued for an agent that is gone
        c.call("orch.send_message", {"token": token_of(c.call("agent.get", {"agent": sup}).pid),
                                     "receiver_id": worker.id, "message": "late"})
    assert e.value.code == ErrorCode.AGENT_EXITED
    assert c.call("inbox.list", {"agent": worker.id}).messages == []
    ended, answer = turn(c, sup, "delegate-json: build lexer")
    result = json.loads(answer.removeprefix("RESULT "))
    assert result["success"] is True and result["output"] == "built lexer: 3 files changed"
    assert result["agent_id"] != worker.id


def test_assign_callback_reaches_the_supervisor_when_idle(team, wait_status):
    c = team.client()
    sup = launch(c)
    wait_status(c, sup, "idle", timeout=20)
    ended, answer = turn(c, sup, "assign: review parser")
    assert ended == "completed" and answer.startswith("assigned ")
    worker_id = json.loads(answer.removeprefix("assigned "))["agent_id"]
    # the worker reports back with send_message; the supervisor gets it as input
    deadline = time.monotonic() + 30
    while "got message from" not in (c.call("agent.output", {"agent": sup, "mode": "last"}).text or ""):
        assert time.monotonic() < deadline, c.call("agent.output", {"agent": sup}).text
        wait_status(c, sup, "processing", timeout=30)
        wait_status(c, sup, "completed", timeout=30)
    assert c.call("agent.output", {"agent": sup, "mode": "last"}).text == \
        f"got message from {worker_id}: review of parser: LGTM"
    worker = wait_status(c, worker_id, "completed")  # assigned workers stay for follow-ups
    assert worker.parent == sup and c.call("agent.output", {"agent": worker_id, "mode": "last"}).text == \
        f"reported to {sup}"
    msgs = c.call("inbox.list", {"agent": sup}).messages
    assert [(m.sender, m.status) for m in msgs] == [(worker_id, "acknowledged")]


def test_messages_to_a_busy_agent_arrive_in_order_once(team, wait_status):
    c = team.client()
    sup = launch(c)
    wait_status(c, sup, "idle", timeout=20)
    c.call("agent.send", {"agent": sup, "text": "busy 1"})
    wait_status(c, sup, "processing")
    for i in range(3):
        m = c.call("inbox.send", {"receiver": sup, "message": f"note {i}"})
        assert m.status == "pending"  # stored, not typed into a busy agent
    assert [m.status for m in c.call("inbox.list", {"agent": sup}).messages] == ["pending"] * 3
    msgs = wait_acknowledged(c, sup, 3)
    assert [m.body for m in msgs] == ["note 0", "note 1", "note 2"]
    assert all(m.delivered_at >= m.created_at for m in msgs)
    history = c.call("agent.output", {"agent": sup, "mode": "history"}).text
    echoes = re.findall(r"● echo: note (\d)", history)
    assert echoes == ["0", "1", "2"], history


def test_messages_queued_by_a_client_that_hangs_up_at_once_are_all_delivered(team, wait_status):
    c = team.client()
    sup = launch(c)
    wait_status(c, sup, "idle", timeout=20)
    c.call("agent.send", {"agent": sup, "text": "busy 1"})
    wait_status(c, sup, "processing")
    n = 20
    frames = b"".join(json.dumps({"jsonrpc": "2.0", "id": i, "method": "session.send",
                                  "params": {"session": "t1", "text": f"note {i}", "wait": False}}).encode() + b"\n"
                      for i in range(n))
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:
        raw.connect(str(team.socket))
        raw.sendall(frames)
    # Gone with its calls still storing: those are cancelled, and every message they
    # began to store is queued too, so none is left stored and never typed.
    msgs = wait_acknowledged(c, sup, n, timeout=90)
    assert [m.body for m in msgs] == [f"note {i}" for i in range(n)]


def test_ten_parallel_assigns_all_report_back(team, wait_status):
    c = team.client()
    sup = launch(c)
    info = wait_status(c, sup, "idle", timeout=20)
    token = token_of(info.pid)
    results, errors = [], []

    def assign(i):
        try:
            with team.client() as own:
                results.append(own.call("orch.assign", {"token": token, "agent_profile": "reviewer",
                                                         "message": f"review part{i}"}, timeout=60))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=assign, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and len({r.agent_id for r in results}) == 10
    msgs = wait_acknowledged(c, sup, 10, timeout=120)
    assert {m.sender for m in msgs} == {r.agent_id for r in results}
    history = c.call("agent.output", {"agent": sup, "mode": "history"}).text
    got = re.findall(r"got message from \w+: review of (part\d)", history)
    assert sorted(got) == sorted(f"part{i}" for i in range(10))


def test_worker_killed_mid_handoff_fails_within_a_second(team, wait_status, events_until):
    c = team.client()
    sup = launch(c)
    wait_status(c, sup, "idle", timeout=20)
    c.call("agent.send", {"agent": sup, "text": "delegate-json: slow work"})
    deadline = time.monotonic() + 20
    while not workers(c, sup):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    worker = workers(c, sup)[0].id
    wait_status(c, worker, "processing", timeout=20)
    c.call("agent.kill", {"agent": worker, "grace": 0})
    done = wait_status(c, sup, "completed", timeout=10)
    answer = c.call("agent.output", {"agent": sup, "mode": "last"}).text
    result = json.loads(answer.removeprefix("RESULT "))
    assert result["success"] is False and "exited" in result["error"]
    exited_at = c.call("agent.get", {"agent": worker}).status_since
    assert done.status_since - exited_at < 1.0


def test_handoff_timeout_returns_partial_output(team, wait_status):
    c = team.client()
    sup = launch(c)
    wait_status(c, sup, "idle", timeout=20)
    ended, answer = turn(c, sup, "delegate-1s: slow work")
    result = json.loads(answer.removeprefix("RESULT "))
    assert result["success"] is False and "did not finish within 1s" in result["error"]
    assert "> slow work" in result["output"]  # what the worker had on screen so far


def test_forged_stale_and_non_supervisor_calls_are_refused(team, wait_status):
    c = team.client()
    sup = launch(c)
    info = wait_status(c, sup, "idle", timeout=20)
    with pytest.raises(RpcFailure) as e:
        c.call("orch.handoff", {"token": "forged", "agent_profile": "developer", "message": "x"})
    assert e.value.code == ErrorCode.PERMISSION_DENIED
    # a developer may not hand off work: it asks through its own MCP bridge
    ended, answer = turn(c, sup, "assign: try-handoff now")
    worker = json.loads(answer.removeprefix("assigned "))["agent_id"]
    deadline = time.monotonic() + 30
    while not (c.call("agent.output", {"agent": worker, "mode": "last"}).text or "").startswith("refused"):
        assert time.monotonic() < deadline
        wait_status(c, worker, "completed", "error", timeout=20)
    assert "only a supervisor may hand off work" in c.call("agent.output", {"agent": worker, "mode": "last"}).text
    # the token is a secret: its agent's files are for the daemon's user only
    folder = team.home / "agents" / worker
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "mcp.json").stat().st_mode) == 0o600
    # a stale token (its agent exited) no longer works
    token = token_of(info.pid)
    c.call("session.shutdown", {"session": "t1"})
    with pytest.raises(RpcFailure) as e:
        c.call("orch.list_agents", {"token": token})
    assert e.value.code == ErrorCode.PERMISSION_DENIED


def test_agents_act_only_within_their_own_session(team, wait_status):
    c = team.client()
    mine, other = launch(c, "s1"), launch(c, "s2")
    token = token_of(wait_status(c, mine, "idle", timeout=20).pid)
    wait_status(c, other, "idle", timeout=20)
    # the caller is whoever holds the token, and it reaches only its own session
    for method, params in (("orch.send_message", {"receiver_id": other, "message": "hi"}),
                           ("orch.answer_user_prompt", {"agent_id": other, "answer": "1"})):
        with pytest.raises(RpcFailure) as e:
            c.call(method, {"token": token, **params})
        assert e.value.code == ErrorCode.NO_SUCH_AGENT, method
    assert [a.id for a in c.call("orch.list_agents", {"token": token}).agents] == [mine]
    with pytest.raises(RpcFailure) as e:
        c.call("orch.send_message", {"token": token, "receiver_id": mine, "message": "me"})
    assert e.value.code == ErrorCode.INVALID_PARAMS
    with pytest.raises(RpcFailure) as e:  # an answer goes only to an agent waiting at a prompt
        c.call("orch.answer_user_prompt", {"token": token, "agent_id": mine, "answer": "1"})
    assert e.value.code == ErrorCode.AGENT_BUSY
    assert c.call("inbox.list", {}).messages == []  # nothing refused was stored


def test_accepted_messages_are_committed_before_the_reply(daemon, daemon_factory, ready_agent):
    c = daemon.client()
    info = ready_agent(c, {"rules": [{"match": ".", "reply": "x", "think": 30}]})
    c.call("agent.send", {"agent": info.id, "text": "work"})
    c.call("agent.wait", {"agent": info.id, "statuses": ["processing"], "timeout": 10})
    # One batch, one reply: were the rows written after the calls returned, the
    # kill -9 right after the reply would lose them.
    n = 100
    batch = [{"jsonrpc": "2.0", "id": i, "method": "inbox.send", "params": {"receiver": info.id, "message": f"m{i}"}}
             for i in range(n)]
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:
        raw.connect(str(daemon.socket))
        raw.sendall(json.dumps(batch).encode() + b"\n")
        got = b""
        while not got.endswith(b"\n"):
            got += raw.recv(1 << 20)
    daemon.agent_pids.add(info.pid)
    daemon.proc.kill()  # at once: no other call in between
    daemon.proc.wait(timeout=15)
    assert [r["result"]["status"] for r in json.loads(got)] == ["pending"] * n
    again = daemon_factory.same(daemon)
    msgs = again.client().call("inbox.list", {"limit": 1000}).messages
    assert [m.body for m in msgs] == [f"m{i}" for i in range(n)]


def test_pending_and_untaken_messages_survive_kill_9_and_are_delivered_once(team, daemon_factory, wait_status, events_until):
    c = team.client()
    sup = launch(c)
    wait_status(c, sup, "idle", timeout=20)
    c.call("agent.send", {"agent": sup, "text": "busy 1"})
    wait_status(c, sup, "processing")
    slow = c.call("inbox.send", {"receiver": sup, "message": "slow"}).id
    for i in range(2):
        c.call("inbox.send", {"receiver": sup, "message": f"keep {i}"})
    old_pid = c.call("agent.get", {"agent": sup}).pid
    watcher = team.client()
    watcher.call("events.subscribe", {"agent": sup, "replay": 100})  # replay: no race with the delivery
    # kill -9 the moment "slow" is typed: the receiver dies with the daemon before its
    # turn with it starts, so the relaunched receiver gets it again, then the others
    events_until(watcher, lambda e: e.kind.value == "message" and e.detail == {
        "id": slow, "from": "user", "state": "delivered"}, timeout=20)
    team.agent_pids.add(old_pid)
    team.proc.kill()  # no clean-up at all, and no call in between
    team.proc.wait(timeout=15)
    again = daemon_factory.same(team)
    c2 = again.client()
    info = wait_status(c2, sup, "idle", "completed", timeout=30)  # relaunched, same id
    assert info.pid != old_pid and info.session == "t1"
    msgs = wait_messages(c2, sup, ["acknowledged"] * 3)
    assert [m.body for m in msgs] == ["slow", "keep 0", "keep 1"]
    history = c2.call("agent.output", {"agent": sup, "mode": "history"}).text
    assert re.findall(r"● echo: (slow|keep \d)", history) == ["slow", "keep 0", "keep 1"], history
