"""Workers' results (caod.results): a handoff never hangs on a question, results
outlive the caller's tool call, get_result, end_worker and the team list.

Scripted agents through a real daemon and the real MCP bridge: the supervisor's
rules call the tools, the workers' rules answer, ask for approval or think long.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import time

import pytest

from caoctl.client import RpcFailure
from caod.protocol import ErrorCode

RULES = {"rules": [
    {"match": r"^ask: (?P<task>.+)$",
     "mcp_call": {"server": "caod", "tool": "handoff", "args": {"agent_profile": "developer", "message": "{task}"}},
     "reply": "RESULT {result_json}", "reply_error": "handoff failed: {error}"},
    {"match": r"^approve (?P<id>\w+)$",
     "mcp_call": {"server": "caod", "tool": "answer_user_prompt", "args": {"agent_id": "{id}", "answer": "1"}},
     "reply": "ANSWERED {result_json}", "reply_error": "answer failed: {error}"},
    {"match": r"^collect (?P<id>\w+)$",
     "mcp_call": {"server": "caod", "tool": "get_result", "args": {"agent_id": "{id}", "timeout": 30}},
     "reply": "GOT {result_json}", "reply_error": "get_result failed: {error}"},
    {"match": r"^team$",
     "mcp_call": {"server": "caod", "tool": "list_agents", "args": {}},
     "reply": "TEAM {result_json}", "reply_error": "list failed: {error}"},
    # workers: one asks before it acts, one takes its time
    {"match": r"^needs-ok (?P<what>\w+)", "approval": "run {what}", "reply": "ran {what}", "think": 0.3},
    {"match": r"^work (?P<what>\w+)", "reply": "worked {what}", "think": 4},
    {"match": r"^\[message from (?P<sender>\w+)\] (?P<body>.*)", "reply": "got message from {sender}: {body}"},
]}


@pytest.fixture
def team(daemon_factory):
    d = daemon_factory.new(start=False)
    d.env["CAO_SCRIPTED_RULES"] = json.dumps(RULES)
    return d.start()


def launch(client, session="r1"):
    r = client.call("session.launch", {"profile": "code_supervisor", "provider": "scripted", "session": session,
                                       "cwd": "/tmp"}, timeout=30)
    return r.supervisor.id


def turn(client, agent, text, timeout=30):
    r = client.call("agent.send", {"agent": agent, "text": text, "wait": True, "timeout": timeout},
                    timeout=timeout + 10)
    return r.ended.value, r.answer


def workers(client, sup):
    return [a for a in client.call("agent.list", {}).agents if a.parent == sup]


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def bridge_of(pid: int) -> int | None:
    """The `caoctl mcp` process an agent's CLI started."""
    for child in descendants(pid):
        try:
            argv = open(f"/proc/{child}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if b"caoctl" in b" ".join(argv) and b"mcp" in argv:
            return child
    return None


def stored_results(team, agent):
    with sqlite3.connect(team.home / "caod.db") as db:
        return db.execute("SELECT parent, ended, output FROM results WHERE agent = ? ORDER BY id", (agent,)).fetchall()


def test_a_handoff_to_a_worker_at_a_prompt_returns_waiting_at_once(agent_token, team, wait_status):
    c = team.client()
    sup = launch(c)
    wait_status(c, sup, "idle", timeout=20)
    ended, answer = turn(c, sup, "ask: needs-ok deploy")
    assert ended == "completed", answer
    result = json.loads(answer.removeprefix("RESULT "))
    assert result["success"] is False and result["waiting"] is True, result
    assert "Do you want to proceed? run deploy" in result["question"]
    assert result["options"] == ["1. Yes", "2. No"]
    worker = result["agent_id"]
    asked = c.call("agent.get", {"agent": worker})
    assert asked.status.value == "waiting_user_answer" and asked.parent == sup
    returned = c.call("agent.get", {"agent": sup}).status_since
    assert returned - asked.status_since < 1.0  # at once, not at the handoff's timeout
    # the supervisor answers, then collects the rest of the turn
    ended, answer = turn(c, sup, f"approve {worker}")
    assert ended == "completed" and answer.startswith("ANSWERED "), answer
    ended, answer = turn(c, sup, f"collect {worker}")
    got = json.loads(answer.removeprefix("GOT "))
    assert (got["done"], got["ended"], got["output"]) == (True, "completed", "ran deploy"), got
    # stored when the turn ended, and the worker is ended after it, as any handoff's
    assert stored_results(team, worker) == [(sup, "completed", "ran deploy")]
    wait_status(c, worker, "exited", timeout=20)
    token = agent_token(c, sup)
    again = c.call("orch.get_result", {"token": token, "agent_id": worker, "wait": False})
    assert (again.done, again.ended, again.output, again.status) == (True, "completed", "ran deploy", "exited")


def test_a_handoff_whose_bridge_is_killed_still_delivers_its_result(team, wait_status, wait_for):
    c = team.client()
    sup = launch(c)
    sup_pid = wait_status(c, sup, "idle", timeout=20).pid
    c.call("agent.send", {"agent": sup, "text": "ask: work parser"})
    worker = wait_for(lambda: workers(c, sup), "the handoff's worker")[0].id
    wait_status(c, worker, "processing", timeout=20)
    bridge = wait_for(lambda: bridge_of(sup_pid), "the supervisor's MCP bridge")
    os.kill(bridge, signal.SIGKILL)  # the caller is gone mid-call
    ended = wait_status(c, sup, "completed", timeout=20)
    assert "handoff failed" in c.call("agent.output", {"agent": sup, "mode": "last"}).text
    assert c.call("agent.get", {"agent": worker}).status.value == "processing"  # it works on
    # its result reaches the caller's inbox once the worker answers, and is typed in
    msgs = wait_for(lambda: [m for m in c.call("inbox.list", {"agent": sup}).messages
                             if m.status == "acknowledged"], "the late result", timeout=30)
    assert [(m.sender, m.body) for m in msgs] == [(worker, f"[caod result of handoff to {worker}] worked parser")]
    assert c.call("agent.output", {"agent": sup, "mode": "last"}).text == \
        f"got message from {worker}: [caod result of handoff to {worker}] worked parser"
    assert ended.status_since < msgs[0].created_at
    assert stored_results(team, worker) == [(sup, "completed", "worked parser")]
    wait_status(c, worker, "exited", timeout=20)


def test_a_direct_handoff_whose_connection_closes_still_delivers_its_result(agent_token, team, wait_status, wait_for):
    c = team.client()
    sup = launch(c)
    token = agent_token(c, wait_status(c, sup, "idle", timeout=20).id)
    call = {"jsonrpc": "2.0", "id": 1, "method": "orch.handoff",
            "params": {"token": token, "agent_profile": "developer", "message": "work lexer"}}
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:
        raw.connect(str(team.socket))
        raw.sendall(json.dumps(call).encode() + b"\n")
        worker = wait_for(lambda: workers(c, sup), "the handoff's worker")[0].id
        wait_status(c, worker, "processing", timeout=20)
    msgs = wait_for(lambda: [m for m in c.call("inbox.list", {"agent": sup}).messages
                             if m.status == "acknowledged"], "the late result", timeout=30)
    assert [(m.sender, m.body) for m in msgs] == [(worker, f"[caod result of handoff to {worker}] worked lexer")]
    wait_status(c, worker, "exited", timeout=20)


def test_assign_results_end_worker_and_the_team_list(agent_token, team, wait_status, wait_for):
    c = team.client()
    sup = launch(c)
    token = agent_token(c, wait_status(c, sup, "idle", timeout=20).id)
    first = c.call("orch.assign", {"token": token, "agent_profile": "reviewer", "message": "check a"}).agent_id
    second = c.call("orch.assign", {"token": token, "agent_profile": "reviewer", "message": "check b"}).agent_id
    got = c.call("orch.get_result", {"token": token, "agent_id": first, "timeout": 30}, timeout=40)
    assert (got.done, got.ended) == (True, "completed")
    assert got.output.startswith(f"got message from {sup}: check a\n\nWhen you have finished")  # all of it
    assert stored_results(team, first) == [(sup, "completed", got.output)]
    # a worker may not end another (nor itself): only its parent may
    first_token = agent_token(c, wait_status(c, first, "completed", timeout=20).id)
    for who in (second, first):
        with pytest.raises(RpcFailure) as e:
            c.call("orch.end_worker", {"token": first_token, "agent_id": who})
        assert e.value.code == ErrorCode.PERMISSION_DENIED and "only the agent that started" in e.value.message
    assert c.call("agent.get", {"agent": second}).status.value != "exited"
    with pytest.raises(RpcFailure) as e:  # the supervisor has no parent
        c.call("orch.get_result", {"token": token, "agent_id": sup})
    assert e.value.code == ErrorCode.INVALID_PARAMS
    wait_status(c, second, "completed", timeout=20)
    ended = c.call("orch.end_worker", {"token": token, "agent_id": second}, timeout=20)
    assert ended.status.value == "exited"
    # the workers never reported: caod forwarded their answers to the supervisor (caod.notices);
    # once it has taken them, the team list through the bridge: status, parent, last answers
    wait_for(lambda: not c.call("inbox.list", {"agent": sup, "pending_only": True}).messages
             and c.call("agent.get", {"agent": sup}).status.value in ("idle", "completed"),
             "the supervisor took the notices")
    ended, answer = turn(c, sup, "team")
    agents = {a["id"]: a for a in json.loads(answer.removeprefix("TEAM "))["agents"]}
    assert agents[first]["parent"] == sup and agents[first]["status"] == "completed"
    assert agents[first]["last_answer"] == f"got message from {sup}: check a"
    assert agents[second]["status"] == "exited" and agents[second]["last_answer"] == f"got message from {sup}: check b"
    assert agents[sup]["parent"] is None and agents[sup]["last_answer"] is None


def test_get_result_waits_for_the_turn_under_way(agent_token, team, wait_status):
    c = team.client()
    sup = launch(c)
    token = agent_token(c, wait_status(c, sup, "idle", timeout=20).id)
    worker = c.call("orch.assign", {"token": token, "agent_profile": "reviewer", "message": "x"}).agent_id
    wait_status(c, worker, "completed", timeout=20)
    c.call("inbox.send", {"receiver": worker, "message": "work slowly"})
    wait_status(c, worker, "processing", timeout=20)
    now = c.call("orch.get_result", {"token": token, "agent_id": worker, "wait": False})
    assert now.done is False and now.output.startswith(f"got message from {sup}: x\n")  # the previous turn's
    got = c.call("orch.get_result", {"token": token, "agent_id": worker, "timeout": 30}, timeout=40)
    assert (got.done, got.ended, got.output) == (True, "completed", "worked slowly")
    assert got.ended_at >= c.call("agent.get", {"agent": worker}).status_since - 0.01
    c.call("inbox.send", {"receiver": worker, "message": "work again"})
    wait_status(c, worker, "processing", timeout=20)
    short = c.call("orch.get_result", {"token": token, "agent_id": worker, "timeout": 0.5})
    assert short.done is False and "no result within 0.5s" in short.error



def test_gc_removes_the_results_of_the_workers_it_removes(agent_token, team, wait_status):
    c = team.client()
    sup = launch(c)
    token = agent_token(c, wait_status(c, sup, "idle", timeout=20).id)
    worker = c.call("orch.assign", {"token": token, "agent_profile": "reviewer", "message": "x"}).agent_id
    assert c.call("orch.get_result", {"token": token, "agent_id": worker, "timeout": 30}, timeout=40).done
    assert len(stored_results(team, worker)) == 1
    c.call("session.shutdown", {"session": "r1"}, timeout=30)
    assert worker in [a.id for a in c.call("agent.gc", {}).agents]
    assert stored_results(team, worker) == []


def test_results_outlive_a_daemon_restart(agent_token, team, daemon_factory, wait_status):
    c = team.client()
    sup = launch(c)
    token = agent_token(c, wait_status(c, sup, "idle", timeout=20).id)
    worker = c.call("orch.assign", {"token": token, "agent_profile": "reviewer", "message": "keep this"}).agent_id
    before = c.call("orch.get_result", {"token": token, "agent_id": worker, "timeout": 30}, timeout=40)
    assert before.done and before.output.startswith(f"got message from {sup}: keep this")
    team.agent_pids.update({c.call("agent.get", {"agent": a}).pid for a in (sup, worker)})
    team.proc.kill()  # kill -9: the result was committed when the turn ended
    team.proc.wait(timeout=15)
    again = daemon_factory.same(team)
    c2 = again.client()
    token = agent_token(c2, wait_status(c2, sup, "idle", "completed", timeout=30).id)  # relaunched, same ids
    wait_status(c2, worker, "idle", "completed", timeout=30)
    started = time.monotonic()
    after = c2.call("orch.get_result", {"token": token, "agent_id": worker, "timeout": 20}, timeout=30)
    assert time.monotonic() - started < 5  # it has no turn under way: no waiting for one
    assert (after.done, after.ended, after.output, after.ended_at) == (True, "completed", before.output, before.ended_at)


def test_the_options_of_a_drawn_question():
    from caod.results import options_of

    claude = "Bash command\n  rm -rf build\nDo you want to proceed?\n❯ 1. Yes\n  2. Yes, and don't ask again\n  3. No"
    assert options_of(claude) == ["1. Yes", "2. Yes, and don't ask again", "3. No"]
    assert options_of("Allow this action? 2) later\n› 1) Allow once\n  2) Deny") == ["1. Allow once", "2. Deny"]
    assert options_of("Continue? [y/N]") == [] and options_of(None) == []
