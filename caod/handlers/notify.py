"""notify.*: notification sinks (webhook, desktop, command) and the plugins loaded."""

from __future__ import annotations

from caod.protocol import Empty, NotifyAdded, NotifyAddParams, NotifyList, NotifyRef, NotifyTested, Ok
from caod.rpc import Context


async def add(ctx: Context, p: NotifyAddParams) -> NotifyAdded:
    return await ctx.daemon.notifier.add(p)


async def list_sinks(ctx: Context, _p: Empty) -> NotifyList:
    return ctx.daemon.notifier.list()


async def remove(ctx: Context, p: NotifyRef) -> Ok:
    await ctx.daemon.notifier.remove(p.id)
    return Ok()


async def test(ctx: Context, p: NotifyRef) -> NotifyTested:
    return await ctx.daemon.notifier.test(p.id)


HANDLERS = {"notify.add": add, "notify.list": list_sinks, "notify.remove": remove, "notify.test": test}
