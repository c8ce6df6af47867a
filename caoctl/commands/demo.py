"""caoctl demo: a scripted team at work, with no account needed.

A supervisor (profile code_supervisor) hands a fix off to a developer
(synchronous), assigns a review to a reviewer (asynchronous), and gets the
reviewer's report back in its inbox. Every agent is caod's scripted agent;
the coordination goes through the real path: agent -> MCP bridge -> caod.
"""

from __future__ import annotations

import json
import secrets
import shutil
import tempfile
import time

import click

from caoctl.client import Client
from caoctl.commands.daemon import start_daemon
from caoctl.common import CommandFailed, json_option, settings
from caoctl.output import table, to_plain
from caod.protocol import InboxSendParams, LaunchParams, OutputMode, OutputParams, ShutdownParams, SubscribeParams
from caod.status import EventKind, Status

TASK = "Fix issue #42: dates are parsed in the wrong timezone."
FOLLOW_UP = "Get it reviewed."
RULES = {"rules": [
    # the supervisor
    {"match": r"^Fix issue (?P<issue>#\d+)", "think": 0.3,
     "mcp_call": {"server": "caod", "tool": "handoff",
                  "args": {"agent_profile": "developer", "message": "Fix {issue}: parse_date() ignores UTC offsets."}},
     "reply": "The developer reports: {result}", "reply_error": "handoff failed: {error}"},
    {"match": r"^Get it reviewed", "think": 0.2,
     "mcp_call": {"server": "caod", "tool": "assign",
                  "args": {"agent_profile": "reviewer", "message": "Review the parse_date() fix in src/dates.py."}},
     "reply": "Review assigned: {result_json}", "reply_error": "assign failed: {error}"},
    # the reviewer: an assignment carries the instruction to report back
    {"match": r"^\[message from (?P<sup>\w+)\] Review (?s:.*)report your result", "think": 0.6,
     "mcp_call": {"server": "caod", "tool": "send_message",
                  "args": {"receiver_id": "{sup}", "message": "LGTM: the fix is correct and covered by a test."}},
     "reply": "Reported to {sup}.", "reply_error": "report failed: {error}"},
    # the supervisor, when a report arrives
    {"match": r"^\[message from (?P<sender>\w+)\] (?P<body>.*)", "reply": "Noted from {sender}: {body}"},
    # the developer
    {"match": r"^Fix #\d+", "think": 0.6,
     "reply": "Patched src/dates.py to keep UTC offsets; added test_parse_date_utc; 42 tests pass."},
]}


@click.command("demo")
@click.option("--keep", is_flag=True, help="Leave the session (and a daemon started for the demo) running.")
@click.option("--timeout", type=click.FloatRange(min=1), default=60, show_default=True)
@json_option
@click.pass_context
def command(ctx, keep, timeout, as_json):
    """Run a scripted team: handoff to a developer, assign to a reviewer, collect its report."""
    sock = settings(ctx).socket
    st, started = start_daemon(sock, None, 15)
    say = (lambda *_a, **_k: None) if as_json else click.echo
    say(f"caod {st.version} (pid {st.pid}) on {st.socket}{' - started for this demo' if started else ''}")
    name = f"demo-{secrets.token_hex(2)}"
    workdir = tempfile.mkdtemp(prefix="caod-demo-")
    log: list[dict] = []
    try:
        agents = _run(sock, name, workdir, timeout, say, log)
    finally:
        if not keep:
            with Client(sock) as c:
                c.call("session.shutdown", ShutdownParams(session=name), timeout=60)
                if started:
                    c.call("daemon.shutdown")
            shutil.rmtree(workdir, ignore_errors=True)  # the team's folder: nothing in it outlives the demo
    if as_json:
        click.echo(json.dumps({"session": name, "agents": agents, "events": log}, indent=2))
        return
    say("\nThe team:")
    say(table(["ROLE", "AGENT", "PROFILE", "STATUS", "LAST ANSWER"],
              ([a["role"], a["id"], a["profile"], a["status"], " ".join((a["answer"] or "-").split())[:70]]
               for a in agents)))
    say(f"\nSession {name} was shut down." if not keep else
        f"\nSession {name} keeps running: caoctl session status {name} --workers")


def _run(sock, name: str, workdir: str, timeout: float, say, log: list[dict]) -> list[dict]:
    t0 = time.monotonic()
    roles: dict[str, str] = {}
    supervisor_turns = 0
    with Client(sock) as c, Client(sock) as feed:
        feed.call("events.subscribe", SubscribeParams())
        launched = c.call("session.launch", LaunchParams(
            profile="code_supervisor", provider="scripted", session=name, cwd=workdir, task=TASK,
            env={"CAO_SCRIPTED_RULES": json.dumps(RULES)}))
        sup = launched.supervisor.id
        roles[sup] = "supervisor"
        say(f"session {name}: supervisor {sup} in {workdir}\n")
        say(f"  +{time.monotonic() - t0:6.3f}s  you        -> supervisor : {TASK}")
        feed.sock.settimeout(timeout)
        try:
            for e in feed.events():
                if e.kind is EventKind.SPAWNED and e.detail.get("session") == name:
                    roles.setdefault(e.agent, e.detail.get("profile") or "agent")
                if e.agent not in roles:
                    continue
                log.append({"t": round(time.monotonic() - t0, 3), "role": roles[e.agent], **to_plain(e)})
                _show(c, e, roles, time.monotonic() - t0, say)
                if e.agent == sup and e.new is Status.COMPLETED:
                    supervisor_turns += 1
                    if supervisor_turns == 1:
                        c.call("inbox.send", InboxSendParams(receiver=sup, message=FOLLOW_UP))
                        say(f"  +{time.monotonic() - t0:6.3f}s  you        -> supervisor : {FOLLOW_UP}")
                    elif supervisor_turns == 3:
                        break
            # the reviewer may still be drawing its own reply to send_message
            for agent in c.call("session.get", {"session": name}).agents:
                if agent.status.live:
                    c.call("agent.wait", {"agent": agent.id, "statuses": ["completed", "idle", "error"],
                                          "timeout": timeout}, timeout=timeout + 10)
        except TimeoutError:
            raise CommandFailed(f"the demo did not finish within {timeout:g}s") from None
        out = []
        for agent in c.call("session.get", {"session": name}).agents:
            last = c.call("agent.output", OutputParams(agent=agent.id, mode=OutputMode.LAST)).text
            out.append({"role": agent.role, "id": agent.id, "profile": agent.profile,
                        "status": agent.status.value, "answer": last})
        return out


def _show(c: Client, e, roles: dict[str, str], t: float, say) -> None:
    who = f"{roles[e.agent]:<10}"
    if e.kind is EventKind.SPAWNED:
        parent = e.detail.get("parent")
        by = f" by {roles.get(parent, parent)}" if parent else ""
        say(f"  +{t:6.3f}s  {who} {e.agent} started{by} (profile {e.detail.get('profile')})")
    elif e.kind is EventKind.MESSAGE:
        sender = e.detail.get("from")
        label = "you" if sender == "user" else roles.get(sender, sender)
        say(f"  +{t:6.3f}s  {who} message {e.detail.get('state')} from {label}")
    elif e.new is Status.COMPLETED:
        answer = c.call("agent.output", OutputParams(agent=e.agent, mode=OutputMode.LAST)).text or ""
        say(f"  +{t:6.3f}s  {who} completed: {' '.join(answer.split())[:100]}")
    else:
        say(f"  +{t:6.3f}s  {who} {e.old.value if e.old else '-'} -> {e.new.value if e.new else '-'}")
