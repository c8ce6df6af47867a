"""inbox.*: a person queues a message for an agent, or reads the message log."""

from __future__ import annotations

from caod.agent import Agent
from caod.inbox import USER
from caod.inputs import sanitize
from caod.protocol import ErrorCode, InboxListParams, InboxSendParams, MessageInfo, MessageList
from caod.rpc import Context, RpcError


async def send(ctx: Context, p: InboxSendParams) -> MessageInfo:
    if not sanitize(p.message).strip():
        raise RpcError(ErrorCode.INVALID_PARAMS, "the message is empty")
    agent = await ctx.daemon.agents.lookup(p.receiver)
    if not isinstance(agent, Agent) or not agent.status.live:
        raise RpcError(ErrorCode.AGENT_EXITED, f"agent {agent.id} has exited; the message was not stored")
    return await ctx.daemon.inbox.post(USER, agent, p.message)


async def list_messages(ctx: Context, p: InboxListParams) -> MessageList:
    agent = (await ctx.daemon.agents.lookup(p.agent)).id if p.agent else None
    limit = max(1, min(p.limit, 10_000))
    return MessageList(await ctx.daemon.inbox.list(agent, p.pending_only, limit))


HANDLERS = {"inbox.send": send, "inbox.list": list_messages}
