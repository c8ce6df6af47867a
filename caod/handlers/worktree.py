"""worktree.* (people) and orch.diff / orch.merge (a supervisor, with its token): workers' git worktrees."""

from __future__ import annotations

from caod.protocol import (
    CleanResult,
    DiffResult,
    ErrorCode,
    MergeResult,
    OrchDiffParams,
    OrchMergeParams,
    WorktreeCleanParams,
    WorktreeDiffParams,
    WorktreeList,
    WorktreeListParams,
    WorktreeMergeParams,
)
from caod.rpc import Context, RpcError


def _session(ctx: Context, name: str | None) -> str | None:
    return ctx.daemon.sessions.get(name).name if name is not None else None


async def list_worktrees(ctx: Context, p: WorktreeListParams) -> WorktreeList:
    return WorktreeList(await ctx.daemon.worktrees.list(_session(ctx, p.session)))


async def diff(ctx: Context, p: WorktreeDiffParams) -> DiffResult:
    return await ctx.daemon.worktrees.diff(p.agent, p.stat)


async def merge(ctx: Context, p: WorktreeMergeParams) -> MergeResult:
    return await ctx.daemon.worktrees.merge(p.agent, p.squash)


async def clean(ctx: Context, p: WorktreeCleanParams) -> CleanResult:
    return await ctx.daemon.worktrees.clean(_session(ctx, p.session), p.force)


async def _worker_of(ctx: Context, token: str, ref: str, action: str) -> str:
    caller = ctx.daemon.agents.authenticate(token)
    if caller.role != "supervisor":
        raise RpcError(ErrorCode.PERMISSION_DENIED, f"permission denied: only a supervisor may {action} "
                       f"(agent {caller.id} is {caller.role or 'no role'})")
    return await ctx.daemon.worktrees.check_supervisor(caller, ref)


async def orch_diff(ctx: Context, p: OrchDiffParams) -> DiffResult:
    return await ctx.daemon.worktrees.diff(await _worker_of(ctx, p.token, p.agent_id, "read a worker's diff"), p.stat)


async def orch_merge(ctx: Context, p: OrchMergeParams) -> MergeResult:
    return await ctx.daemon.worktrees.merge(await _worker_of(ctx, p.token, p.agent_id, "merge a worker's work"),
                                            p.squash)


HANDLERS = {
    "worktree.list": list_worktrees,
    "worktree.diff": diff,
    "worktree.merge": merge,
    "worktree.clean": clean,
    "orch.diff": orch_diff,
    "orch.merge": orch_merge,
}
