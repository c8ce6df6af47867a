"""caoctl merge: take a worker's worktree branch into the session's branch."""

from __future__ import annotations

import click

from caoctl.common import CommandFailed, connect, json_option
from caoctl.complete import agent_ids
from caoctl.output import emit_json
from caod.protocol import WorktreeMergeParams

CALL_TIMEOUT = 300.0
SHOWN_CONFLICTS = 10


@click.command("merge")
@click.argument("agent", shell_complete=agent_ids)
@click.option("--squash", is_flag=True, help="One new commit on the session's branch instead of a merge.")
@json_option
@click.pass_context
def command(ctx, agent, squash, as_json):
    """Merge AGENT's worktree branch into the branch checked out in the session's folder.

    The worker's uncommitted changes are committed on its branch first. On
    conflicts nothing is changed: the conflicting paths are listed and the
    command fails.
    """
    with connect(ctx) as c:
        r = c.call("worktree.merge", WorktreeMergeParams(agent=agent, squash=squash), timeout=CALL_TIMEOUT)
    if as_json:
        emit_json(r)
    if r.conflicts:
        paths = ", ".join(r.conflicts[:SHOWN_CONFLICTS]) + (", ..." if len(r.conflicts) > SHOWN_CONFLICTS else "")
        first = f"; the worker's uncommitted changes were committed on {r.branch} first" if r.committed else ""
        raise CommandFailed(f"merge of {r.branch} into {r.into} refused: {len(r.conflicts)} conflicting "
                            f"path{'s' if len(r.conflicts) != 1 else ''}: {paths} (nothing was changed{first})")
    if as_json:
        return
    if r.committed:
        click.echo(f"committed the worker's uncommitted changes on {r.branch} ({r.committed[:12]})")
    if r.up_to_date:
        click.echo(f"{r.into} already has everything on {r.branch}")
    else:
        how = "fast-forwarded" if r.fast_forward else "squashed" if r.squash else "merged"
        click.echo(f"{how} {r.branch} into {r.into} ({r.commit[:12] if r.commit else '?'})")
