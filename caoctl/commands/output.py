"""caoctl output: what the agent's screen shows, or its last answer."""

from __future__ import annotations

import click

from caoctl.common import CommandFailed, connect, json_option
from caoctl.complete import agent_ids
from caoctl.output import emit_json
from caod.protocol import OutputMode, OutputParams


@click.command("output")
@click.argument("agent", shell_complete=agent_ids)
@click.option("--screen", is_flag=True, help="The rendered screen (the default).")
@click.option("--last", is_flag=True, help="The last answer, as the provider extracts it.")
@click.option("--history", is_flag=True, help="Scrollback plus the screen.")
@json_option
@click.pass_context
def command(ctx, agent, screen, last, history, as_json):
    """Print AGENT's screen (rendered text, no escape codes) or its last answer."""
    chosen = [name for name, given in (("screen", screen), ("last", last), ("history", history)) if given]
    if len(chosen) > 1:
        raise click.UsageError(f"give one of --screen, --last, --history (not {' and '.join('--' + c for c in chosen)})")
    mode = chosen[0] if chosen else "screen"
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
