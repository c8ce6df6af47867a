"""workflow.*: built-in and user workflows, their runs, resume (caod.workflows)."""

from __future__ import annotations

from caod.protocol import (
    Empty, RunInfo, RunList, RunListParams, RunRef, RunWaitParams, WorkflowInfo, WorkflowList, WorkflowRef,
    WorkflowRunParams,
)
from caod.rpc import Context


async def list_workflows(ctx: Context, _p: Empty) -> WorkflowList:
    return ctx.daemon.workflows.list()


async def show(ctx: Context, p: WorkflowRef) -> WorkflowInfo:
    return ctx.daemon.workflows.show(p.name)


async def run(ctx: Context, p: WorkflowRunParams) -> RunInfo:
    return await ctx.daemon.workflows.run(p)


async def resume(ctx: Context, p: RunRef) -> RunInfo:
    return await ctx.daemon.workflows.resume(p.run)


async def runs(ctx: Context, p: RunListParams) -> RunList:
    return RunList(await ctx.daemon.workflows.runs(p.limit))


async def get_run(ctx: Context, p: RunRef) -> RunInfo:
    return await ctx.daemon.workflows.get_run(p.run)


async def wait(ctx: Context, p: RunWaitParams) -> RunInfo:
    return await ctx.daemon.workflows.wait(p)


HANDLERS = {"workflow.list": list_workflows, "workflow.show": show, "workflow.run": run, "workflow.resume": resume,
            "workflow.runs": runs, "workflow.get_run": get_run, "workflow.wait": wait}
