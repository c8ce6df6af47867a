"""caoctl web against a real daemon with scripted agents: the overview, the event stream, a live screen."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

RULES = {"rules": [
    {"match": r"^delegate: (?P<task>.+)$",
     "mcp_call": {"server": "caod", "tool": "handoff", "args": {"agent_profile": "developer", "message": "{task}"}},
     "reply": "worker said: {result}", "reply_error": "handoff failed: {error}"},
    {"match": r"^build (?P<what>\w+) slowly", "reply": "built {what}", "think": 6.0},
    {"match": r"^build (?P<what>\w+)", "reply": "built {what}", "think": 0.5},
    {"match": r"^ask", "approval": "Proceed with <script>alert(1)</script>?", "reply": "done"},
]}


@pytest.fixture
def team(daemon_factory):
    d = daemon_factory.new(start=False)
    d.env["CAO_SCRIPTED_RULES"] = json.dumps(RULES)
    return d.start()


@pytest.fixture
def web(team, web_factory):
    return web_factory(team)


def test_the_overview_shows_a_launched_session_as_a_tree(team, web, wait_for, tmp_path):
    c = team.client()
    launched = c.call("session.launch", {"profile": "code_supervisor", "provider": "scripted", "session": "crew",
                                         "cwd": str(tmp_path), "task": "delegate: build parser slowly"}, timeout=30)
    sup = launched.supervisor.id

    def team_shown():
        data = web.request("GET", "/api/overview").json()
        crews = [s for s in data["sessions"] if s["name"] == "crew"]
        return crews and crews[0]["agents"] and crews[0]["agents"][0]["children"] and data

    data = wait_for(team_shown, "the worker under its supervisor", timeout=30)
    crew = data["sessions"][0]
    assert crew["cwd"] == str(tmp_path) and crew["supervisor"] == sup
    [root] = crew["agents"]
    [worker] = root["children"]
    assert root["id"] == sup and root["profile"] == "code_supervisor" and root["provider"] == "scripted"
    assert root["role"] == "supervisor" and root["status"] in {"processing", "idle"} and root["status_since"] > 0
    assert worker["parent"] == sup and worker["profile"] == "developer" and worker["role"] == "developer"
    assert data["agents"] == [] and data["attention"] == []


def test_the_event_stream_delivers_a_status_change(team, web, ready_agent, send):
    c = team.client()
    a = ready_agent(c)
    s = web.stream("/api/stream/events")
    try:
        assert s.next_event()[0] == "hello"
        send(c, a.id, "build lexer", wait=False)
        seen = s.until(lambda name, e: name == "caod" and e["agent"] == a.id and e["kind"] == "status"
                       and e["new"] == "processing")
        assert seen[-1][1]["old"] == "idle"
        s.until(lambda name, e: name == "caod" and e["agent"] == a.id and e.get("new") == "completed")
    finally:
        s.close()


def test_an_agents_screen_streams_what_it_draws(team, web, ready_agent, send):
    c = team.client()
    a = ready_agent(c)
    s = web.stream(f"/api/stream/screen/{a.id}")
    try:
        name, first = s.next_event()
        assert name == "screen" and first["agent"] == a.id and first["status"] == "idle"
        assert "built tokens" not in first["text"]
        send(c, a.id, "build tokens", wait=False)
        s.until(lambda name, e: name == "screen" and "built tokens" in e["text"])
    finally:
        s.close()
    r = web.request("GET", f"/api/agents/{a.id}/screen").json()
    assert "built tokens" in r["text"] and r["agent"] == a.id
    assert web.request("GET", "/api/agents/nobody/screen").status == 404


def test_an_agent_waiting_for_an_answer_is_at_the_top(team, web, ready_agent, send, wait_status):
    c = team.client()
    a = ready_agent(c, name="asker")
    send(c, a.id, "ask first", wait=False)
    wait_status(c, a.id, "waiting_user_answer", timeout=20)
    data = web.request("GET", "/api/overview").json()
    [att] = data["attention"]
    assert att["id"] == a.id and att["why"] == "waiting for an answer" and att["name"] == "asker"
    # the question as the agent drew it, as JSON text (never served as HTML; the page sets textContent)
    assert "Proceed with <script>alert(1)</script>?" in att["reason"]
    r = web.request("GET", "/api/overview")
    assert r.headers["Content-Type"] == "application/json" and r.headers["X-Content-Type-Options"] == "nosniff"


def test_sigterm_ends_open_streams_and_exits_cleanly(team, web, ready_agent):
    a = ready_agent(team.client())
    events, screen = web.stream("/api/stream/events"), web.stream(f"/api/stream/screen/{a.id}")
    try:
        assert events.next_event()[0] == "hello" and screen.next_event()[0] == "screen"
        web.proc.terminate()
        # at once, not after uvicorn's grace period; it re-raises SIGTERM once done, as a killed process ends
        started = time.monotonic()
        assert web.proc.wait(timeout=10) == -signal.SIGTERM
        assert time.monotonic() - started < 1.0
        for s in (events, screen):
            with pytest.raises(ConnectionError):  # the server ended the stream
                s.next_event()
    finally:
        events.close()
        screen.close()
    err = web.proc.stderr.read()
    assert "ERROR" not in err and "Traceback" not in err, err


def test_answering_a_waiting_agent_completes_its_turn(team, web, ready_agent, send, wait_status):
    c = team.client()
    a = ready_agent(c)
    post = {"Content-Type": "application/json", "Origin": web.origin}
    path = f"/api/agents/{a.id}/answer"
    early = web.request("POST", path, headers=post, body=b'{"text": "1"}')
    assert early.status == 409 and "not waiting" in early.json()["error"]  # idle: it would be a new task
    send(c, a.id, "ask first", wait=False)
    wait_status(c, a.id, "waiting_user_answer", timeout=20)
    assert web.request("POST", path, headers={**post, "Origin": "http://attacker.example"},
                       body=b'{"text": "1"}').status == 403
    r = web.request("POST", path, headers=post, body=b'{"text": "1"}')
    assert r.status == 200, r.body
    wait_status(c, a.id, "completed", timeout=20)
    assert c.call("agent.output", {"agent": a.id, "mode": "last"}).text.strip() == "done"


def test_a_stalled_agent_is_at_the_top_until_its_status_changes(daemon_factory, web_factory, ready_agent, send,
                                                                  wait_status, wait_for):
    d = daemon_factory.new(start=False)
    d.env["CAOD_STALL_AFTER"] = "1s"
    d.env["CAO_SCRIPTED_RULES"] = json.dumps({"rules": [{"match": "^hang", "reply": "hang done", "think": 60}]})
    d.start()
    web = web_factory(d)
    c = d.client()
    a = ready_agent(c, name="sleeper")
    send(c, a.id, "hang on", wait=False)
    info = wait_status(c, a.id, "processing", timeout=20)
    assert web.request("GET", "/api/overview").json()["attention"] == []
    os.kill(info.pid, signal.SIGSTOP)  # frozen: still processing, no output
    try:
        def stalled():
            return web.request("GET", "/api/overview").json()["attention"]

        [att] = wait_for(stalled, "the stalled agent at the top", timeout=15)
        assert att["id"] == a.id and att["why"] == "stalled" and att["status"] == "processing"
        [row] = web.request("GET", "/api/overview").json()["agents"]
        assert row["stalled_since"] is not None
    finally:
        os.kill(info.pid, signal.SIGCONT)
    c.call("agent.kill", {"agent": a.id}, timeout=30)  # a status change: no longer stalled
    wait_for(lambda: web.request("GET", "/api/overview").json()["agents"][0]["stalled_since"] is None,
             "the stall forgotten once its status changed", timeout=15)
    assert web.request("GET", "/api/overview").json()["attention"] == []
