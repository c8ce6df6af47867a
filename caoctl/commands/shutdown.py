"""caoctl shutdown: end a session's agents (or every session's)."""

from __future__ import annotations

import click

from caoctl.common import connect, json_option
from caoctl.complete import session_names
from caoctl.output import counted, emit_json
from caod.protocol import ShutdownParams


@click.command("shutdown")
@click.option("--session", shell_complete=session_names, help="The session to shut down.")
@click.option("--all", "everything", is_flag=True, help="Shut down every active session.")
@json_option
@click.pass_context
def command(ctx, session, everything, as_json):
    """Stop every agent of a session and mark it ended."""
    if bool(session) == everything:
        raise click.UsageError("give --session NAME or --all")
    with connect(ctx) as c:
        result = c.call("session.shutdown", ShutdownParams(session=session, all=everything), timeout=120)
    if as_json:
        emit_json(result)
    elif not result.sessions:
        click.echo("no active sessions")
    else:
        click.echo(f"shut down {', '.join(result.sessions)} ({counted(result.agents, 'agent')} stopped)")
