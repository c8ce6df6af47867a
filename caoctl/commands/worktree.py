"""caoctl worktree list|clean: the git worktrees workers started with use_worktree run in."""

from __future__ import annotations

import click

from caoctl.common import connect, json_option
from caoctl.complete import session_names
from caoctl.output import counted, emit_json, table
from caod.protocol import WorktreeCleanParams, WorktreeInfo, WorktreeListParams

CALL_TIMEOUT = 300.0  # git reads every worktree; removing big ones takes a while


@click.group("worktree")
def command():
    """The workers' git worktrees (handoff/assign with use_worktree)."""


def _changes(w: WorktreeInfo) -> str:
    if not w.present:
        return "folder gone"
    text = f"{w.changed} file{'s' if w.changed != 1 else ''}"
    if w.uncommitted:
        text += f" ({w.uncommitted} uncommitted)"
    return text + (", merged" if w.merged else "")


def _rows(worktrees: list[WorktreeInfo], last: str) -> list[list[str]]:
    return [[w.agent, w.session, w.status, w.branch, _changes(w),
             f"+{w.ahead}/-{w.behind}" if w.into else "-", (w.reason or "") if last == "WHY" else w.path]
            for w in worktrees]


def _table(worktrees: list[WorktreeInfo], last: str = "PATH") -> str:
    return table(["AGENT", "SESSION", "STATUS", "BRANCH", "CHANGED", "AHEAD/BEHIND", last], _rows(worktrees, last))


@command.command("list")
@click.option("--session", shell_complete=session_names, help="Only this session's worktrees.")
@json_option
@click.pass_context
def list_worktrees(ctx, session, as_json):
    """List worktrees: agent, branch, changed files, commits ahead of/behind the session's branch, folder."""
    with connect(ctx) as c:
        worktrees = c.call("worktree.list", WorktreeListParams(session=session), timeout=CALL_TIMEOUT).worktrees
    if as_json:
        emit_json(worktrees)
    elif not worktrees:
        click.echo("no worktrees")
    else:
        click.echo(_table(worktrees))


@command.command("clean")
@click.option("--session", shell_complete=session_names, help="Only this session's worktrees.")
@click.option("--force", is_flag=True, help="Remove unmerged work too (not the worktrees of running agents).")
@json_option
@click.pass_context
def clean(ctx, session, force, as_json):
    """Remove worktrees of exited workers whose work is merged or empty; list the others, kept."""
    with connect(ctx) as c:
        result = c.call("worktree.clean", WorktreeCleanParams(session=session, force=force), timeout=CALL_TIMEOUT)
    if as_json:
        emit_json(result)
        return
    if result.removed:
        click.echo(f"removed {counted(len(result.removed), 'worktree')}: "
                   + ", ".join(f"{w.agent} ({w.reason})" for w in result.removed))
    if result.kept:
        click.echo(f"kept {counted(len(result.kept), 'worktree')}:")
        click.echo(_table(result.kept, "WHY"))
    if not result.removed and not result.kept:
        click.echo("no worktrees")
