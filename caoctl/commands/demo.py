"""caoctl demo: a small team of scripted agents, each through one turn.

Needs no account: it runs caod's built-in scripted agent. It shows the
event flow live (spawn, idle, processing, a permission prompt answered,
completed) and ends with each agent's answer.
"""

from __future__ import annotations

import json
import time

import click

from caoctl.client import Client
from caoctl.commands.daemon import start_daemon
from caoctl.common import CommandFailed, json_option, settings
from caoctl.output import table, to_plain
from caod.protocol import KillParams, OutputMode, OutputParams, SendParams, SpawnParams, SubscribeParams
from caod.status import EventKind, Status

TEAM = [
    ("planner", {"default": {"reply": "Plan:\n1. reproduce the bug\n2. fix parse_date()\n3. add a test", "think": 0.6}},
     "Plan the fix for issue #42 (dates parsed in the wrong timezone)."),
    ("coder", {"default": {"approval": "Apply the patch to src/dates.py?", "reply": "Patch applied: 1 file changed, 4 insertions(+)", "think": 0.4}},
     "Apply the fix to parse_date()."),
    ("tester", {"default": {"reply": "42 passed, 0 failed in 0.9s", "think": 0.9}},
     "Run the test suite."),
]


@click.command("demo")
@click.option("--keep", is_flag=True, help="Leave the agents (and a daemon started for the demo) running.")
@click.option("--timeout", type=click.FloatRange(min=1), default=60, show_default=True)
@json_option
@click.pass_context
def command(ctx, keep, timeout, as_json):
    """Run a demo team of scripted agents and show what happens."""
    sock = settings(ctx).socket
    st, started = start_daemon(sock, None, 15)
    say = (lambda *_a, **_k: None) if as_json else click.echo
    say(f"caod {st.version} (pid {st.pid}) on {st.socket}{' - started for this demo' if started else ''}\n")
    t0 = time.monotonic()
    roles: dict[str, str] = {}
    log: list[dict] = []
    try:
        results = _run_team(sock, timeout, roles, log, say, t0)
    finally:
        with Client(sock) as c:
            if not keep:
                for agent_id in roles:
                    c.call("agent.kill", KillParams(agent=agent_id, grace=2), timeout=30)
            if started and not keep:
                c.call("daemon.shutdown")
    if as_json:
        click.echo(json.dumps({"agents": results, "events": log}, indent=2))
        return
    say("\nAnswers:")
    say(table(["ROLE", "AGENT", "STATUS", "ANSWER"],
              ([r["role"], r["id"], r["status"], (r["answer"] or "").replace("\n", " | ")] for r in results)))
    say("\nThe agents were stopped." if not keep else "\nThe agents keep running: caoctl ls, caoctl attach ID.")


def _run_team(sock, timeout, roles, log, say, t0) -> list[dict]:
    with Client(sock) as c, Client(sock) as feed:
        feed.call("events.subscribe", SubscribeParams())
        for role, rules, _task in TEAM:
            info = c.call("agent.spawn", SpawnParams(provider="scripted", env={"CAO_SCRIPTED_RULES": json.dumps(rules)}))
            roles[info.id] = role
            say(f"spawned {role:<8} {info.id}  (provider scripted, pid {info.pid})")
        say("")
        pending_tasks = {agent_id: task for agent_id, (_r, _ru, task) in zip(roles, TEAM)}
        done: set[str] = set()
        feed.sock.settimeout(timeout)
        try:
            for e in feed.events():
                if e.agent not in roles or e.kind is not EventKind.STATUS:
                    continue
                role = roles[e.agent]
                log.append({"t": round(time.monotonic() - t0, 3), "role": role, **to_plain(e)})
                say(f"  +{time.monotonic() - t0:6.3f}s  {role:<8} {e.old.value if e.old else '-':>19} -> {e.new.value:<19} [{e.signal.value}]")
                if e.new is Status.IDLE and e.agent in pending_tasks:
                    task = pending_tasks.pop(e.agent)
                    c.call("agent.send", SendParams(agent=e.agent, text=task))
                    say(f"{'':12}{role:<8} <- task: {task}")
                elif e.new is Status.WAITING:
                    say(f"{'':12}{role:<8} asks permission; the demo answers 1 (Yes)")
                    c.call("agent.send", SendParams(agent=e.agent, text="1"))
                elif e.new in (Status.COMPLETED, Status.ERROR, Status.EXITED):
                    done.add(e.agent)
                if len(done) == len(roles):
                    break
        except TimeoutError:
            raise CommandFailed(f"the demo did not finish within {timeout:g}s") from None
        results = []
        for agent_id, role in roles.items():
            out = c.call("agent.output", OutputParams(agent=agent_id, mode=OutputMode.LAST))
            results.append({"role": role, "id": agent_id, "status": out.status.value, "answer": out.text})
        return results
