"""session.*: launch a team, look at it, talk to it, shut it down."""

from __future__ import annotations

import asyncio
import time

from caod.agent import Agent, AgentBusy, AgentGone
from caod.exited import exit_data
from caod.handlers.agent import check_timeout, turn_result
from caod.handover.export import markdown
from caod.inbox import USER, NotTaken
from caod.inputs import sanitize
from caod.protocol import (
    ErrorCode,
    LaunchParams,
    LaunchResult,
    SendResult,
    SessionExport,
    SessionInfo,
    SessionList,
    SessionListParams,
    SessionRef,
    SessionSendParams,
    ShutdownParams,
    ShutdownResult,
)
from caod.rpc import Context, RpcError
from caod.turns import NotReady, NotStarted, wait_settled


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
    """Queue the text in the agent's durable inbox; with `wait`, answer when the turn
    that takes it is over, however long the agent is busy first."""
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
    timeout = check_timeout(p.timeout)
    if not sanitize(p.text).strip():
        raise RpcError(ErrorCode.INVALID_PARAMS, "the message is empty (after removing control characters)")
    if not isinstance(agent, Agent) or not agent.status.live:
        raise RpcError(ErrorCode.AGENT_EXITED, f"agent {agent.id} has exited; the message was not stored",
                       exit_data(agent))
    inbox = ctx.daemon.inbox
    if not p.wait:
        msg = await inbox.post(USER, agent, p.text)  # delivered when it is ready
        return SendResult(agent.info(), message=msg.id)
    deadline = time.monotonic() + timeout
    try:  # a CLI stopped at a start-up dialog (a login) would never take it: say so now
        await wait_settled(agent, timeout)
    except NotReady as e:
        raise RpcError(ErrorCode.TIMEOUT, str(e)) from None
    except NotStarted as e:
        raise RpcError(ErrorCode.AGENT_BUSY, str(e), {"status": e.status.value, "reason": e.reason}) from None
    turn: asyncio.Future = asyncio.get_running_loop().create_future()
    msg = await inbox.post(USER, agent, p.text, turn=turn)
    try:
        ended = await asyncio.wait_for(turn, max(0.0, deadline - time.monotonic()))
    except TimeoutError:
        queued = inbox.is_pending(msg.id, agent.id)
        where = "it is still queued" if queued else "it was delivered and the turn goes on"
        raise RpcError(
            ErrorCode.TIMEOUT,
            f"agent {agent.id} did not answer message {msg.id} within {timeout:g}s "
            f"({where}; status {agent.status.value})",
            {"message": msg.id, "queued": queued, "status": agent.status.value},
        ) from None
    except (AgentBusy, AgentGone, ProcessLookupError) as e:
        raise RpcError(ErrorCode.AGENT_BUSY, f"agent {agent.id} cannot take input: {e}") from None
    except NotTaken:
        raise RpcError(ErrorCode.AGENT_EXITED, f"agent {agent.id} exited before taking message {msg.id} "
                       "(it stays in its inbox)", {"message": msg.id, "exit_code": agent.exit_code}) from None
    finally:
        inbox.unfollow(msg.id)
    return await turn_result(agent, ended, message=msg.id)


async def shutdown(ctx: Context, p: ShutdownParams) -> ShutdownResult:
    sm = ctx.daemon.sessions
    if p.all == (p.session is not None):
        raise RpcError(ErrorCode.INVALID_PARAMS, "give either a session name or all=true")
    names = [s.name for s in sm.sessions.values() if s.active] if p.all else [sm.get(p.session).name]
    done, count = await sm.shutdown(names)
    return ShutdownResult(done, count)


async def export(ctx: Context, p: SessionRef) -> SessionExport:
    return SessionExport(await markdown(ctx.daemon.store, ctx.daemon.sessions.get(p.session)))


HANDLERS = {
    "session.launch": launch,
    "session.list": list_sessions,
    "session.get": get,
    "session.send": send,
    "session.shutdown": shutdown,
    "session.export": export,
}
