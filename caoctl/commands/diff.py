"""caoctl diff: a worker's changes in its worktree, committed or not, against its base."""

from __future__ import annotations

import click

from caoctl.common import connect, json_option
from caoctl.complete import agent_ids
from caoctl.output import emit_json
from caod.protocol import WorktreeDiffParams

CALL_TIMEOUT = 180.0


@click.command("diff")
@click.argument("agent", shell_complete=agent_ids)
@click.option("--stat", is_flag=True, help="A summary of changed files instead of the patch.")
@json_option
@click.pass_context
def command(ctx, agent, stat, as_json):
    """Show what AGENT changed in its worktree since it started (untracked files too)."""
    with connect(ctx) as c:
        result = c.call("worktree.diff", WorktreeDiffParams(agent=agent, stat=stat), timeout=CALL_TIMEOUT)
    if as_json:
        emit_json(result)
        return
    if not result.files:
        click.echo(f"no changes in {result.branch} since {result.base[:12]}", err=True)
        return
    click.echo(result.diff, nl=not result.diff.endswith("\n"))
    if result.truncated:
        click.echo(f"caoctl: the diff was cut; see all of it in the worktree (git diff {result.base[:12]})", err=True)
