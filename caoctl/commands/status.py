"""caoctl status: one agent in detail."""

from __future__ import annotations

import click

from caoctl.common import connect, json_option
from caoctl.complete import agent_ids
from caoctl.output import agent_details, emit_json
from caod.protocol import AgentRef


@click.command("status")
@click.argument("agent", shell_complete=agent_ids)
@json_option
@click.pass_context
def command(ctx, agent, as_json):
    """Show one agent (by id or name)."""
    with connect(ctx) as c:
        info = c.call("agent.get", AgentRef(agent=agent))
    click.echo(agent_details(info)) if not as_json else emit_json(info)
