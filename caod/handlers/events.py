"""events.*: live subscriptions and stored history."""

from __future__ import annotations

from caod.protocol import EventList, EventsParams, Subscribed, SubscribeParams
from caod.rpc import Context

MAX_REPLAY = 1000


async def subscribe(ctx: Context, p: SubscribeParams) -> Subscribed:
    agent = ctx.daemon.agents.resolve(p.agent).id if p.agent else None
    replay = max(0, min(p.replay, MAX_REPLAY))
    # After the reply, so the subscriber sees the reply before any event.
    ctx.after_reply.append(lambda: ctx.conn.subscribe(agent, replay))
    return Subscribed(seq=ctx.daemon.bus.seq)


async def history(ctx: Context, p: EventsParams) -> EventList:
    agent = ctx.daemon.agents.resolve(p.agent).id if p.agent else None
    limit = max(1, min(p.limit, 10_000))
    return EventList(events=await ctx.daemon.bus.history(agent, p.since, limit))


HANDLERS = {"events.subscribe": subscribe, "events.list": history}
