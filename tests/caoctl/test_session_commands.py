"""caoctl launch / session / shutdown, as a user runs them, on scripted agents."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

RULES = {"rules": [
    {"match": r"^delegate: (?P<task>.+)$",
     "mcp_call": {"server": "caod", "tool": "handoff", "args": {"agent_profile": "developer", "message": "{task}"}},
     "reply": "worker said: {result}", "reply_error": "handoff failed: {error}"},
    # long enough for the checks below to see the worker at work, even on a loaded machine
    {"match": r"^build (?P<what>\w+) slowly", "reply": "built {what}", "think": 6.0},
    {"match": r"^build (?P<what>\w+)", "reply": "built {what}", "think": 1.0},
    {"match": r"^later$", "reply": "done later", "think": 3.0},
    {"match": r"^fail", "error": "model overloaded"},
    {"match": r"^ask", "approval": "Proceed?", "reply": "done"},
]}


@pytest.fixture
def team(daemon_factory):
    d = daemon_factory.new(start=False)
    d.env["CAO_SCRIPTED_RULES"] = json.dumps(RULES)
    return d.start()


def test_launch_headless_then_status_shows_the_team_at_work(team, caoctl, caoctl_json, tmp_path):
    r = caoctl(team, "launch", "--agents", "code_supervisor", "--provider", "scripted", "--session-name", "crew",
               "--working-directory", str(tmp_path), "--model", "opus", "--yolo", "-e", "CAO_TEST_MARK=crew",
               "--headless", "delegate: build parser slowly")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("session crew: supervisor ") and "task queued" in r.stdout
    # the supervisor hands off to a developer: both show up while it works
    deadline = time.monotonic() + 30
    while True:
        s = caoctl_json(team, "session", "status", "crew")
        roles = {a["role"]: a for a in s["agents"]}
        if "developer" in roles and roles["developer"]["status"] == "processing":
            break
        assert time.monotonic() < deadline, s
        time.sleep(0.1)
    assert roles["supervisor"]["status"] == "processing" and roles["supervisor"]["profile"] == "code_supervisor"
    assert roles["developer"]["parent"] == roles["supervisor"]["id"] and s["cwd"] == str(tmp_path)
    # --model and --yolo reach the supervisor's command line; --env reaches every agent of the session
    command = roles["supervisor"]["command"]
    assert "--yolo" in command and command[command.index("--model") + 1] == "opus", command
    for a in (roles["supervisor"], roles["developer"]):
        assert b"CAO_TEST_MARK=crew" in open(f"/proc/{a['pid']}/environ", "rb").read().split(b"\0"), a["role"]
    text = caoctl(team, "session", "status", "crew", "--workers").stdout
    assert "supervisor:" in text and "developer" in text and "PARENT" in text
    brief = caoctl(team, "session", "status", "crew").stdout
    assert f"supervisor: {roles['supervisor']['id']} (code_supervisor, scripted)" in brief
    assert "PARENT" not in brief and roles["developer"]["id"] not in brief  # the team only with --workers
    sup = roles["supervisor"]["id"]
    assert caoctl(team, "wait", sup, "-s", "completed", "--timeout", "30").returncode == 0
    assert caoctl(team, "output", sup, "--last").stdout.strip() == "worker said: built parser"
    listed = caoctl_json(team, "session", "list")
    assert [x["name"] for x in listed] == ["crew"] and listed[0]["supervisor"] == sup
    assert "crew" in caoctl(team, "session", "list").stdout


def test_session_send_sync_and_async(team, caoctl, caoctl_json, one_line_error, tmp_path):
    caoctl(team, "launch", "--agents", "developer", "--provider", "scripted", "--session-name", "s2",
           "--working-directory", str(tmp_path), "--headless")
    r = caoctl(team, "session", "send", "s2", "build lexer")
    assert r.returncode == 0 and r.stdout.strip() == "built lexer"
    r = caoctl(team, "session", "send", "s2", "later", "--async")
    assert r.returncode == 0 and r.stdout.strip().isdigit(), r  # the id of the queued message
    sup = caoctl_json(team, "session", "status", "s2")["supervisor"]
    queued = team.client().call("inbox.list", {"agent": sup}).messages[-1]
    assert (queued.id, queued.body) == (int(r.stdout), "later")
    # --async returned long before the 3 s turn could end
    assert caoctl(team, "output", sup, "--last").stdout.strip() == "built lexer"
    deadline = time.monotonic() + 20
    while caoctl(team, "output", sup, "--last").stdout.strip() != "done later":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    # the exit codes of `caoctl send --wait`
    one_line_error(caoctl(team, "session", "send", "s2", "fail now"), 1, "ended the turn with status error")
    one_line_error(caoctl(team, "session", "send", "s2", "ask first"), 3, "is waiting for an answer")
    caoctl(team, "spawn", "-p", "scripted", "--name", "outsider")
    one_line_error(caoctl(team, "session", "send", "s2", "hi", "--agent", "outsider"), 1,
                   "no agent outsider in session s2")


def test_session_send_waits_for_a_busy_supervisor(team, caoctl, caoctl_json, one_line_error, tmp_path):
    caoctl(team, "launch", "--agents", "developer", "--provider", "scripted", "--session-name", "busy",
           "--working-directory", str(tmp_path), "--headless", "later")
    sup = caoctl_json(team, "session", "status", "busy")["supervisor"]
    assert caoctl(team, "wait", sup, "-s", "processing", "--timeout", "20").returncode == 0
    # Behind the 3 s task: the wait runs out while the message is queued; it stays queued.
    one_line_error(caoctl(team, "session", "send", "busy", "build early", "--timeout", "0.5"), 124, "still queued")
    started = time.monotonic()
    r = caoctl(team, "session", "send", "busy", "build lexer")  # waits for both turns ahead of it
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "built lexer" and time.monotonic() - started > 1.0
    c = team.client()
    messages = c.call("inbox.list", {"agent": sup}).messages
    assert [(m.body, m.status) for m in messages] == [
        ("later", "acknowledged"), ("build early", "acknowledged"), ("build lexer", "acknowledged")]
    assert caoctl_json(team, "session", "send", "busy", "build json")["message"] == messages[-1].id + 1
    # The receiver exits while the message waits: the waiting send says so, the message is kept.
    caoctl(team, "session", "send", "busy", "later", "--async")
    assert caoctl(team, "wait", sup, "-s", "processing", "--timeout", "20").returncode == 0
    waiting = subprocess.Popen([sys.executable, "-m", "caoctl", "session", "send", "busy", "build never"],
                               env=team.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while c.call("inbox.list", {"agent": sup}).messages[-1].body != "build never":
        assert time.monotonic() < deadline and waiting.poll() is None
        time.sleep(0.05)
    assert caoctl(team, "kill", sup).returncode == 0
    out, err = waiting.communicate(timeout=30)
    assert waiting.returncode == 1 and err.count("\n") == 1, (out, err)
    assert f"agent {sup} exited before taking message" in err and "stays in its inbox" in err, err
    assert c.call("inbox.list", {"agent": sup}).messages[-1].status == "pending"


def test_shutdown_and_errors(team, caoctl, caoctl_json, one_line_error, tmp_path):
    for name in ("a1", "a2", "a3"):
        caoctl(team, "launch", "--agents", "reviewer", "--provider", "scripted", "--session-name", name,
               "--working-directory", str(tmp_path), "--headless")
    one_line_error(caoctl(team, "launch", "--agents", "reviewer", "--provider", "scripted", "--session-name", "a1",
                          "--headless"), 1, "already running")
    one_line_error(caoctl(team, "launch", "--agents", "nobody", "--provider", "scripted", "--headless"), 1,
                   "no such profile")
    one_line_error(caoctl(team, "launch", "--agents", "developer", "--headless", "--provider", "scripted",
                          "--working-directory", "/etc"), 1, "system folder")
    one_line_error(caoctl(team, "launch", "--agents", "developer", "--headless", "--provider", "scripted",
                          "--working-directory", "/no/such/dir"), 1, "does not exist")
    one_line_error(caoctl(team, "launch", "--agents", "developer", "--headless"), 1, "names no provider")
    one_line_error(caoctl(team, "session", "status", "ghost"), 1, "no such session")
    r = caoctl(team, "shutdown", "--session", "a1")
    assert r.returncode == 0 and "shut down a1 (1 agent stopped)" in r.stdout
    assert [s["name"] for s in caoctl_json(team, "session", "list")] == ["a2", "a3"]
    assert [a["status"] for a in caoctl_json(team, "session", "status", "a1")["agents"]] == ["exited"]
    assert {s["name"]: s["active"] for s in caoctl_json(team, "session", "list", "--all")} == {
        "a1": False, "a2": True, "a3": True}
    data = caoctl_json(team, "shutdown", "--all")
    assert data == {"sessions": ["a2", "a3"], "agents": 2}
    for name in ("a2", "a3"):
        assert [a["status"] for a in caoctl_json(team, "session", "status", name)["agents"]] == ["exited"]
    assert caoctl(team, "shutdown").returncode == 2  # usage: needs --session or --all
