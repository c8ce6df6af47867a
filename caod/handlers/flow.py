"""flow.*: scheduled runs of one agent session from a CAO flow file (caod.flows)."""

from __future__ import annotations

from caod.protocol import FlowAddParams, FlowHistory, FlowHistoryParams, FlowInfo, FlowList, FlowListParams, FlowRef, FlowRun
from caod.rpc import Context


async def add(ctx: Context, p: FlowAddParams) -> FlowInfo:
    return await ctx.daemon.flows.add(p)


async def list_flows(ctx: Context, p: FlowListParams) -> FlowList:
    return ctx.daemon.flows.list()


async def show(ctx: Context, p: FlowRef) -> FlowInfo:
    flows = ctx.daemon.flows
    return flows.info(flows.get(p.name), with_prompt=True)


async def run(ctx: Context, p: FlowRef) -> FlowRun:
    return await ctx.daemon.flows.run_now(p.name)


async def enable(ctx: Context, p: FlowRef) -> FlowInfo:
    return await ctx.daemon.flows.set_enabled(p.name, True)


async def disable(ctx: Context, p: FlowRef) -> FlowInfo:
    return await ctx.daemon.flows.set_enabled(p.name, False)


async def remove(ctx: Context, p: FlowRef) -> FlowInfo:
    return await ctx.daemon.flows.remove(p.name)


async def history(ctx: Context, p: FlowHistoryParams) -> FlowHistory:
    return FlowHistory(await ctx.daemon.flows.history(p.name, p.limit))


HANDLERS = {
    "flow.add": add,
    "flow.list": list_flows,
    "flow.show": show,
    "flow.run": run,
    "flow.enable": enable,
    "flow.disable": disable,
    "flow.remove": remove,
    "flow.history": history,
}
