"""Handover files of a session (caod.handover.sessions): a handoff, an assign and the
worker's send_message report, each a numbered Markdown file in
<session folder>/.caod/handover/<session>/ holding exactly what the receiver got (and the
worker's answer). A real daemon; scripted agents call the real MCP bridge."""

from __future__ import annotations

import json
import os
import re

import pytest

from caod.handover import parse_sections

RULES = {"rules": [
    {"match": r"^delegate: (?P<task>.+)$",
     "mcp_call": {"server": "caod", "tool": "handoff", "args": {"agent_profile": "developer", "message": "{task}"}},
     "reply": "worker said: {result}", "reply_error": "handoff failed: {error}"},
    {"match": r"^assign: (?P<task>.+)$",
     "mcp_call": {"server": "caod", "tool": "assign", "args": {"agent_profile": "reviewer", "message": "{task}"}},
     "reply": "assigned {result_json}", "reply_error": "assign failed: {error}"},
    {"match": r"^\[message from \w+\] review (?P<what>\w+)(?s:.*)receiver_id=\"(?P<sup>\w+)\"",
     "mcp_call": {"server": "caod", "tool": "send_message",
                  "args": {"receiver_id": "{sup}", "message": "review of {what}: LGTM"}},
     "reply": "reported to {sup}", "reply_error": "report failed: {error}"},
    {"match": r"^\[message from (?P<sender>\w+)\] (?P<body>.*)", "reply": "got message from {sender}: {body}"},
], "default": {"reply": "did: {text}"}}


@pytest.fixture
def team(daemon_factory):
    d = daemon_factory.new(start=False)
    d.env["CAO_SCRIPTED_RULES"] = json.dumps(RULES)
    return d.start()


def launch(client, cwd, wait_status, session="h1", **extra) -> str:
    r = client.call("session.launch", {"profile": "code_supervisor", "provider": "scripted", "session": session,
                                       "cwd": str(cwd), **extra}, timeout=30)
    wait_status(client, r.supervisor.id, "idle", timeout=20)
    return r.supervisor.id


def say(client, text: str, session="h1") -> str:
    r = client.call("session.send", {"session": session, "text": text, "wait": True, "timeout": 60}, timeout=70)
    return r.answer


def test_handoff_assign_and_report_are_numbered_files_with_what_each_agent_got(team, tmp_path, wait_status,
                                                                                wait_for):
    client = team.client()
    sup = launch(client, tmp_path, wait_status, handover=True)
    folder = tmp_path / ".caod" / "handover" / "h1"
    assert say(client, "delegate: make the parser faster").startswith("worker said: did: ")
    handoff = wait_for(lambda: sorted(folder.glob("turn_1_*.md")), "the handoff's file")
    assert [p.name for p in handoff] == ["turn_1_developer.md"]
    sent, answer = parse_sections(handoff[0].read_text())
    assert "make the parser faster" in sent and answer == "did: " + sent  # the worker echoes what it received
    header = handoff[0].read_text()
    assert f"| from | agent {sup} (code_supervisor) |" in header and "| CLI | scripted |" in header
    assert "| turn | 1: handoff |" in header

    assigned = json.loads(say(client, "assign: review parser").removeprefix("assigned "))
    worker = assigned["agent_id"]
    def three():
        names = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
        return names if len(names) == 3 else None
    files = wait_for(three, "the assign's and the report's files")
    assert files == ["turn_1_developer.md", "turn_2_reviewer.md", "turn_3_code_supervisor.md"]
    (task,) = parse_sections((folder / "turn_2_reviewer.md").read_text())
    assert task.startswith(f"[message from {sup}] review parser") and f'receiver_id="{sup}"' in task
    received = [m.body for m in client.call("inbox.list", {"agent": worker}).messages]
    assert received and task == f"[message from {sup}] {received[0]}"  # exactly what the worker was typed
    (report,) = parse_sections((folder / "turn_3_code_supervisor.md").read_text())
    assert report == f"[message from {worker}] review of parser: LGTM"
    assert re.search(rf"\| from \| agent {worker} \(reviewer\) \|", (folder / "turn_3_code_supervisor.md").read_text())
    assert {oct(os.stat(p).st_mode & 0o777) for p in folder.iterdir()} == {"0o600"}
    assert oct(os.stat(tmp_path / ".caod").st_mode & 0o777) == "0o700"


def test_a_session_writes_no_handover_files_unless_asked(team, tmp_path, wait_status):
    client = team.client()
    launch(client, tmp_path, wait_status, session="h2")
    assert say(client, "delegate: tidy up", session="h2").startswith("worker said: did: ")
    assert client.call("session.get", {"session": "h2"}).active
    assert not (tmp_path / ".caod").exists()


def test_session_export_holds_the_whole_conversation_in_time_order(team, tmp_path, wait_status, wait_for):
    client = team.client()
    sup = launch(client, tmp_path, wait_status, session="h3")  # no handover files: the export needs none
    say(client, "delegate: make the parser faster", session="h3")
    worker = json.loads(say(client, "assign: review parser", session="h3").removeprefix("assigned "))["agent_id"]

    def exported():
        text = client.call("session.export", {"session": "h3"}).markdown
        return text if f"message: {worker} (reviewer) → {sup} (code_supervisor)" in text else None
    text = wait_for(exported, "the worker's report in the export")
    order = [text.index(s) for s in (
        f"agent {sup} (code_supervisor) started",
        f"you → {sup} (code_supervisor)", "delegate: make the parser faster",
        f"handoff: {sup} (code_supervisor) →", "Answer:",
        f"you → {sup} (code_supervisor)\n\n```text\nassign: review parser",
        f"assign: {sup} (code_supervisor) → {worker} (reviewer)",
        f"message: {worker} (reviewer) → {sup} (code_supervisor)", "review of parser: LGTM")]
    assert order == sorted(order), text
    assert text.startswith("# Session h3\n") and "## Latest answers" in text
    assert not (tmp_path / ".caod").exists()
