"""events.*: live subscriptions and stored history."""

from __future__ import annotations

from caod.protocol import EventList, EventsParams, Subscribed, SubscribeParams
from caod.rpc import Context, RpcError


async def _agent_id(ctx: Context, ref: str | None) -> str | None:
    """The id of an agent this daemon runs, or of one recorded before a restart."""
    if not ref:
        return None
    try:
        return ctx.daemon.agents.resolve(ref).id
    except RpcError:
        row = await ctx.daemon.store.fetchone(
            "SELECT id FROM agents WHERE id = ? OR name = ? ORDER BY created_at DESC LIMIT 1", (ref, ref))
        if row is None:
            raise
        return row[0]

MAX_REPLAY = 1000


async def subscribe(ctx: Context, p: SubscribeParams) -> Subscribed:
    # Live events only come from agents this daemon runs: a typo is an error.
    agent = ctx.daemon.agents.resolve(p.agent).id if p.agent else None
    replay = max(0, min(p.replay, MAX_REPLAY))
    # After the reply, so the subscriber sees the reply before any event.
    ctx.after_reply.append(lambda: ctx.conn.subscribe(agent, replay))
    return Subscribed(seq=ctx.daemon.bus.seq)


async def history(ctx: Context, p: EventsParams) -> EventList:
    agent = await _agent_id(ctx, p.agent)
    limit = max(1, min(p.limit, 10_000))
    return EventList(events=await ctx.daemon.bus.history(agent, p.since, limit))


HANDLERS = {"events.subscribe": subscribe, "events.list": history}
