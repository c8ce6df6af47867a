"""caoctl session list|status|send."""

from __future__ import annotations

import sys

import click

from caoctl.common import EXIT_FAILED, EXIT_WAITING, CommandFailed, connect, json_option
from caoctl.complete import agent_ids, session_names
from caoctl.output import ago, emit_json, table
from caod.protocol import SessionInfo, SessionListParams, SessionRef, SessionSendParams
from caod.status import Status


@click.group("session")
def command():
    """Look at sessions and talk to them."""


def _counts(s: SessionInfo) -> str:
    live = sum(1 for a in s.agents if a.status is not Status.EXITED)
    return f"{live}/{len(s.agents)}"


@command.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include sessions that were shut down.")
@json_option
@click.pass_context
def list_sessions(ctx, show_all, as_json):
    """List sessions."""
    with connect(ctx) as c:
        sessions = c.call("session.list", SessionListParams(all=show_all)).sessions
    if as_json:
        emit_json(sessions)
        return
    if not sessions:
        click.echo("no sessions")
        return
    rows = []
    for s in sessions:
        sup = next((a for a in s.agents if a.id == s.supervisor), None)
        rows.append([s.name, "active" if s.active else "ended", s.supervisor or "-",
                     sup.status.value if sup else "-", _counts(s), ago(s.created_at), s.cwd])
    click.echo(table(["SESSION", "STATE", "SUPERVISOR", "STATUS", "LIVE/ALL", "AGE", "CWD"], rows))


@command.command("status")
@click.argument("name", shell_complete=session_names)
@click.option("--workers", is_flag=True, help="List every agent of the session.")
@json_option
@click.pass_context
def status(ctx, name, workers, as_json):
    """Show a session: its supervisor's status, and with --workers the whole team."""
    with connect(ctx) as c:
        s = c.call("session.get", SessionRef(session=name))
    if as_json:
        emit_json(s)
        return
    sup = next((a for a in s.agents if a.id == s.supervisor), None)
    click.echo(f"session:    {s.name} ({'active' if s.active else 'ended'}, started {ago(s.created_at)} ago)")
    click.echo(f"cwd:        {s.cwd}")
    if sup:
        click.echo(f"supervisor: {sup.id} ({sup.profile}, {sup.provider}) {sup.status.value} for {ago(sup.status_since)}")
    click.echo(f"agents:     {_counts(s)} live")
    if workers:
        click.echo("")
        click.echo(table(
            ["ID", "PROFILE", "ROLE", "PROVIDER", "STATUS", "SINCE", "PARENT"],
            ([a.id, a.profile or "-", a.role or "-", a.provider, a.status.value, ago(a.status_since), a.parent or "-"]
             for a in s.agents),
        ))


@command.command("send")
@click.argument("name", shell_complete=session_names)
@click.argument("message")
@click.option("--agent", shell_complete=agent_ids, help="An agent of the session (default: its supervisor).")
@click.option("--async", "is_async", is_flag=True, help="Queue the message, print its id and return at once.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=600, show_default=True,
              help="Seconds to wait for the answer, queueing included.")
@json_option
@click.pass_context
def send(ctx, name, message, agent, is_async, timeout, as_json):
    """Send MESSAGE to the session's supervisor (or --agent) and print the answer.

    The message goes into the agent's durable inbox (stored before this
    returns) and is typed in when the agent is ready, so a busy supervisor
    answers once its current turn is over. Exit codes as for `caoctl send
    --wait`; on timeout (124) the message stays queued. With --async, prints
    the message's id and returns at once.
    """
    if message == "-":
        message = sys.stdin.read()
    with connect(ctx) as c:
        result = c.call("session.send", SessionSendParams(session=name, text=message, agent=agent,
                                                          wait=not is_async, timeout=timeout),
                        timeout=None if is_async else timeout + 30)
    if as_json:
        emit_json(result)
    elif is_async:
        click.echo(result.message)
    elif result.answer is not None:
        click.echo(result.answer)
    if is_async or result.ended is Status.COMPLETED:
        return
    if result.ended is Status.WAITING:
        raise CommandFailed(f"agent {result.agent.id} is waiting for an answer", EXIT_WAITING)
    raise CommandFailed(f"agent {result.agent.id} ended the turn with status {result.ended.value}", EXIT_FAILED)


@command.command("export")
@click.argument("name", shell_complete=session_names)
@click.option("--markdown", "as_markdown", is_flag=True, required=True,
              help="As one Markdown document (the only format so far).")
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write to FILE instead of standard output.")
@click.pass_context
def export(ctx, name, as_markdown, out):
    """Write a session's whole conversation: every agent, in time order, tasks, handoffs and answers."""
    with connect(ctx) as c:
        text = c.call("session.export", SessionRef(session=name), timeout=60).markdown
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        with open(out, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        raise CommandFailed(f"cannot write {out}: {e.strerror}") from None
    click.echo(f"wrote {out}")
