"""caoctl gc: remove exited agents' records, folders and transcripts."""

from __future__ import annotations

import click

from caoctl.common import connect, json_option
from caoctl.output import ago, emit_json, table
from caod.durations import parse_duration
from caod.protocol import GcParams

CALL_TIMEOUT = 600.0  # removing big agent folders takes a while


class Duration(click.ParamType):
    name = "duration"

    def convert(self, value, param, ctx):
        if isinstance(value, (int, float)):
            return float(value)
        try:
            return parse_duration(value)
        except ValueError as e:
            self.fail(str(e), param, ctx)


def size_text(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"


@click.command("gc")
@click.option("--older-than", type=Duration(), default="0", metavar="DURATION",
              help="Only agents that exited longer ago than this (e.g. 30m, 12h, 7d). Default: every exited agent.")
@click.option("--dry-run", is_flag=True, help="Show what would be removed; remove nothing.")
@json_option
@click.pass_context
def command(ctx, older_than, dry_run, as_json):
    """Remove exited agents: their records, folders and transcripts.

    Running agents and the agents of a session that is still active are kept
    (a restarted daemon may start those again). The daemon also does this by
    itself for agents exited longer than `caod --keep-exited` (default 7d).
    """
    with connect(ctx) as c:
        result = c.call("agent.gc", GcParams(older_than=older_than, dry_run=dry_run), timeout=CALL_TIMEOUT)
    if as_json:
        emit_json(result)
        return
    if not result.agents and not result.leftovers:
        click.echo("nothing to remove")
        return
    if result.agents:
        click.echo(table(["ID", "NAME", "EXITED", "SIZE"],
                         ([a.id, a.name or "-", f"{ago(a.exited_at)} ago", size_text(a.bytes)] for a in result.agents)))
    what = f"{len(result.agents)} exited agent{'s' if len(result.agents) != 1 else ''}"
    if result.leftovers:
        what += f" and {len(result.leftovers)} leftover file{'s' if len(result.leftovers) != 1 else ''}"
    verb = "would remove" if result.dry_run else "removed"
    click.echo(f"{verb} {what} ({size_text(result.bytes)})")
