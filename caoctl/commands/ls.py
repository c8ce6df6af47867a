"""caoctl ls: the agents this daemon runs."""

from __future__ import annotations

import click

from caoctl.common import connect, json_option
from caoctl.output import agents_table, emit_json
from caod.protocol import ListParams


@click.command("ls")
@click.option("--live", is_flag=True, help="Only agents that have not exited.")
@json_option
@click.pass_context
def command(ctx, live, as_json):
    """List agents."""
    with connect(ctx) as c:
        agents = c.call("agent.list", ListParams(live_only=live)).agents
    if as_json:
        emit_json(agents)
    elif agents:
        click.echo(agents_table(agents))
    else:
        click.echo("no agents")
