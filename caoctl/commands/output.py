"""caoctl output: what the agent's screen shows, or its last answer."""

from __future__ import annotations

import click

from caoctl.common import CommandFailed, connect, json_option
from caoctl.complete import agent_ids
from caoctl.output import emit_json
from caod.protocol import OutputMode, OutputParams


@click.command("output")
@click.argument("agent", shell_complete=agent_ids)
@click.option("--screen", "mode", flag_value="screen", default=True, help="The rendered screen (default).")
@click.option("--last", "mode", flag_value="last", help="The last answer, as the provider extracts it.")
@click.option("--history", "mode", flag_value="history", help="Scrollback plus the screen.")
@json_option
@click.pass_context
def command(ctx, agent, mode, as_json):
    """Print AGENT's screen (rendered text, no escape codes) or its last answer."""
    with connect(ctx) as c:
        result = c.call("agent.output", OutputParams(agent=agent, mode=OutputMode(mode)))
    if as_json:
        emit_json(result)
        return
    if result.text is None:
        if result.status.value == "exited":
            raise CommandFailed(f"agent {result.agent} exited with no answer recorded")
        raise CommandFailed(f"agent {result.agent} has no answer on screen yet")
    click.echo(result.text)
