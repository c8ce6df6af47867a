"""caoctl wait: block until an agent reaches one of the given statuses."""

from __future__ import annotations

import click

from caoctl.common import connect, json_option
from caoctl.complete import agent_ids
from caoctl.output import emit_json
from caod.protocol import WaitParams
from caod.status import Status

STATUS_NAMES = [s.value for s in Status]


@click.command("wait")
@click.argument("agent", shell_complete=agent_ids)
@click.option("--status", "-s", "statuses", multiple=True, required=True, type=click.Choice(STATUS_NAMES),
              help="Status to wait for (repeatable: any of them).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=600, show_default=True)
@json_option
@click.pass_context
def command(ctx, agent, statuses, timeout, as_json):
    """Wait until AGENT's status is one of --status (exit 124 on timeout)."""
    with connect(ctx) as c:
        info = c.call("agent.wait", WaitParams(agent=agent, statuses=[Status(s) for s in statuses], timeout=timeout),
                      timeout=timeout + 30)
    emit_json(info) if as_json else click.echo(info.status.value)
