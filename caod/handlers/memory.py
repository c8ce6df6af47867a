"""memory.*: notes kept across sessions (caod.memory). An agent's token limits a call to
its own scopes; without one (a person's caoctl) the place named in the params is used."""

from __future__ import annotations

from caod.protocol import (
    MemoryImported,
    MemoryImportParams,
    MemoryInfo,
    MemoryKeyParams,
    MemoryList,
    MemoryListParams,
    MemoryRecallParams,
    MemoryStoreParams,
)
from caod.rpc import Context


def _place(ctx: Context, p, everything_for_people: bool = False):
    """(place, source); place None: a person who named no place sees every memory."""
    named = p.project or p.session or p.profile
    if p.token is None and everything_for_people and not named:
        return None, "user"
    return ctx.daemon.memory.place(p.token, p.project, p.session, p.profile)


async def store(ctx: Context, p: MemoryStoreParams) -> MemoryInfo:
    place, source = _place(ctx, p)
    return await ctx.daemon.memory.store(place, source, p.content, p.key, p.scope, p.tags)


async def recall(ctx: Context, p: MemoryRecallParams) -> MemoryList:
    place, _ = _place(ctx, p)
    if p.all and p.token is None:
        place = None
    return MemoryList(await ctx.daemon.memory.recall(place, p.query, p.scope, p.limit))


async def list_memories(ctx: Context, p: MemoryListParams) -> MemoryList:
    place, _ = _place(ctx, p, everything_for_people=True)
    return MemoryList(await ctx.daemon.memory.list(place, p.scope, p.limit))


async def show(ctx: Context, p: MemoryKeyParams) -> MemoryInfo:
    place, _ = _place(ctx, p, everything_for_people=True)
    return await ctx.daemon.memory.show(place, p.key, p.scope)


async def forget(ctx: Context, p: MemoryKeyParams) -> MemoryList:
    place, _ = _place(ctx, p, everything_for_people=True)
    return MemoryList(await ctx.daemon.memory.forget(place, p.key, p.scope))


async def put_back(ctx: Context, p: MemoryImportParams) -> MemoryImported:
    return MemoryImported(await ctx.daemon.memory.put_back(p.memories))


HANDLERS = {
    "memory.store": store,
    "memory.recall": recall,
    "memory.list": list_memories,
    "memory.show": show,
    "memory.forget": forget,
    "memory.import": put_back,
}
