"""events.*: live subscriptions and stored history."""

from __future__ import annotations

from caod.protocol import EventList, EventsParams, Subscribed, SubscribeParams
from caod.rpc import Context


async def _agent_id(ctx: Context, ref: str | None) -> str | None:
    """The id of an agent this daemon runs, or of an exited one SQLite keeps."""
    return (await ctx.daemon.agents.lookup(ref)).id if ref else None

MAX_REPLAY = 1000


async def subscribe(ctx: Context, p: SubscribeParams) -> Subscribed:
    # A typo is an error (an exited agent is no typo: it just sends nothing more).
    agent = await _agent_id(ctx, p.agent)
    replay = max(0, min(p.replay, MAX_REPLAY))
    # After the reply, so the subscriber sees the reply before any event.
    ctx.after_reply.append(lambda: ctx.conn.subscribe(agent, replay))
    return Subscribed(seq=ctx.daemon.bus.seq)


async def history(ctx: Context, p: EventsParams) -> EventList:
    agent = await _agent_id(ctx, p.agent)
    limit = max(1, min(p.limit, 10_000))
    return EventList(events=await ctx.daemon.bus.history(agent, p.since, limit))


HANDLERS = {"events.subscribe": subscribe, "events.list": history}
