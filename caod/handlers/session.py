"""session.*: launch a team, look at it, talk to it, shut it down."""

from __future__ import annotations

from caod.agent import Agent
from caod.exited import exit_data
from caod.handlers.agent import send_text
from caod.inbox import USER
from caod.protocol import (
    ErrorCode,
    LaunchParams,
    LaunchResult,
    SendResult,
    SessionInfo,
    SessionList,
    SessionListParams,
    SessionRef,
    SessionSendParams,
    ShutdownParams,
    ShutdownResult,
)
from caod.rpc import Context, RpcError


async def launch(ctx: Context, p: LaunchParams) -> LaunchResult:
    return await ctx.daemon.sessions.launch(p)


async def list_sessions(ctx: Context, p: SessionListParams) -> SessionList:
    sm = ctx.daemon.sessions
    chosen = [s for s in sm.sessions.values() if s.active or p.all]
    return SessionList([await sm.info(s) for s in sorted(chosen, key=lambda s: s.created_at)])


async def get(ctx: Context, p: SessionRef) -> SessionInfo:
    sm = ctx.daemon.sessions
    return await sm.info(sm.get(p.session))


async def send(ctx: Context, p: SessionSendParams) -> SendResult:
    sm = ctx.daemon.sessions
    session = sm.get(p.session)
    if not session.active:
        raise RpcError(ErrorCode.NO_SUCH_SESSION, f"session {session.name} has been shut down")
    ref = p.agent or session.supervisor
    if ref is None:
        raise RpcError(ErrorCode.NO_SUCH_AGENT, f"session {session.name} has no supervisor")
    agent = await ctx.daemon.agents.lookup(ref)
    if agent.session != session.name:
        raise RpcError(ErrorCode.NO_SUCH_AGENT, f"no agent {ref} in session {session.name}")
    if not isinstance(agent, Agent) or not agent.status.live:
        raise RpcError(ErrorCode.AGENT_EXITED, f"agent {agent.id} has exited", exit_data(agent))
    if p.wait:
        return await send_text(agent, p.text, True, p.timeout)
    await ctx.daemon.inbox.post(USER, agent, p.text)  # queued: delivered when it is ready
    return SendResult(agent.info())


async def shutdown(ctx: Context, p: ShutdownParams) -> ShutdownResult:
    sm = ctx.daemon.sessions
    if p.all == (p.session is not None):
        raise RpcError(ErrorCode.INVALID_PARAMS, "give either a session name or all=true")
    names = [s.name for s in sm.sessions.values() if s.active] if p.all else [sm.get(p.session).name]
    done, count = await sm.shutdown(names)
    return ShutdownResult(done, count)


HANDLERS = {
    "session.launch": launch,
    "session.list": list_sessions,
    "session.get": get,
    "session.send": send,
    "session.shutdown": shutdown,
}
