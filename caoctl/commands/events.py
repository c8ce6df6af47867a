"""caoctl events: status changes and spawns, stored or live."""

from __future__ import annotations

import json

import click

from caoctl.common import connect, json_option
from caoctl.complete import agent_ids
from caoctl.output import emit_json, event_line, to_plain
from caod.protocol import EventsParams, SubscribeParams


@click.command("events")
@click.option("--follow", "-f", is_flag=True, help="Keep printing events as they happen (Ctrl-C to stop).")
@click.option("--agent", "-a", shell_complete=agent_ids, help="Only this agent's events.")
@click.option("--since", type=click.IntRange(min=0), default=0, help="Only events after this sequence number.")
@click.option("--limit", "-n", type=click.IntRange(0, 10000), default=50, show_default=True,
              help="How many recent events to show (with --follow: before the live ones; 0: none, only new ones).")
@json_option
@click.pass_context
def command(ctx, follow, agent, since, limit, as_json):
    """Print recent events; with --follow, stream new ones (JSON: one object per line)."""
    if limit == 0 and not follow:
        raise click.UsageError("-n 0 shows no events; it is for --follow (only new events)")
    with connect(ctx) as c:
        if not follow:
            events = c.call("events.list", EventsParams(agent=agent, since=since, limit=limit)).events
            if as_json:
                emit_json(events)
            else:
                for e in events:
                    click.echo(event_line(e))
            return
        c.call("events.subscribe", SubscribeParams(agent=agent, replay=limit))
        for e in c.events():
            if e.seq <= since:
                continue
            click.echo(json.dumps(to_plain(e)) if as_json else event_line(e))
