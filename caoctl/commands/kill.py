"""caoctl kill: end an agent (SIGTERM, then SIGKILL after a grace)."""

from __future__ import annotations

import click

from caoctl.common import connect, json_option
from caoctl.complete import agent_ids
from caoctl.output import agent_status_text, emit_json
from caod.protocol import KillParams


@click.command("kill")
@click.argument("agents", nargs=-1, required=True, shell_complete=agent_ids)
@click.option("--grace", type=click.FloatRange(min=0), default=3.0, show_default=True,
              help="Seconds between SIGTERM and SIGKILL.")
@json_option
@click.pass_context
def command(ctx, agents, grace, as_json):
    """Stop one or more agents and wait until they are gone."""
    results = []
    with connect(ctx) as c:
        for ref in agents:
            results.append(c.call("agent.kill", KillParams(agent=ref, grace=grace), timeout=grace + 30))
    if as_json:
        emit_json(results if len(results) > 1 else results[0])
        return
    for info in results:
        click.echo(f"{info.id}: {agent_status_text(info)}")
