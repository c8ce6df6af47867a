"""agent.*: spawn, inspect, type into, wait on, resize, kill, attach."""

from __future__ import annotations

import asyncio

from caod.agent import Agent, AgentBusy, AgentGone
from caod.exited import ExitedAgent, exit_data, with_screen
from caod.inputs import sanitize
from caod.protocol import (
    AgentInfo,
    AgentList,
    AgentRef,
    AttachParams,
    ErrorCode,
    GcParams,
    GcResult,
    HookParams,
    HookResult,
    KillParams,
    ListParams,
    OutputMode,
    OutputParams,
    OutputResult,
    ResizeParams,
    SendParams,
    SendResult,
    SpawnParams,
    WaitParams,
)
from caod.rpc import Context, RpcError
from caod.status import Status
from caod.turns import NotReady, NotStarted, Turn, start_turn, wait_settled


def check_timeout(value: float) -> float:
    if not value > 0:
        raise RpcError(ErrorCode.INVALID_PARAMS, "timeout must be a positive number of seconds")
    return value


async def spawn(ctx: Context, p: SpawnParams) -> AgentInfo:
    return (await ctx.daemon.agents.spawn(p)).info()


async def list_agents(ctx: Context, p: ListParams) -> AgentList:
    return AgentList(await ctx.daemon.agents.infos(live_only=p.live_only))


async def get(ctx: Context, p: AgentRef) -> AgentInfo:
    return (await ctx.daemon.agents.lookup(p.agent)).info()


async def send(ctx: Context, p: SendParams) -> SendResult:
    return await send_text(await ctx.daemon.agents.live(p.agent), p.text, p.wait, p.timeout)


async def send_text(agent: Agent, text: str, wait: bool, timeout: float) -> SendResult:
    """Type `text` into `agent`; with `wait`, return when the turn is over."""
    timeout = check_timeout(timeout)
    if not sanitize(text).strip():
        raise RpcError(ErrorCode.INVALID_PARAMS, "the message is empty (after removing control characters)")
    try:
        await wait_settled(agent, timeout)
        async with agent.input_lock:
            if agent.status is Status.EXITED:
                raise RpcError(ErrorCode.AGENT_EXITED, f"agent {agent.id} has exited", exit_data(agent))
            if not agent.takes_input:
                raise RpcError(ErrorCode.AGENT_BUSY, f"agent {agent.id} is busy ({agent.status.value})")
            pending = start_turn(agent, text)
    except NotReady as e:
        raise RpcError(ErrorCode.TIMEOUT, str(e)) from None
    except NotStarted as e:
        raise RpcError(ErrorCode.AGENT_BUSY, str(e), {"status": e.status.value, "reason": e.reason}) from None
    except (AgentBusy, AgentGone, ProcessLookupError) as e:
        raise RpcError(ErrorCode.AGENT_BUSY, f"agent {agent.id} cannot take input: {e}") from None
    if not wait:
        pending.cancel()
        return SendResult(agent.info())
    try:
        turn = await asyncio.wait_for(pending, timeout)
    except TimeoutError:
        raise RpcError(
            ErrorCode.TIMEOUT,
            f"agent {agent.id} did not finish within {timeout:g}s (status {agent.status.value})",
            {"status": agent.status.value, "partial": agent.last_answer(), "screen": agent.screen.text()},
        ) from None
    return await turn_result(agent, turn)


async def turn_result(agent: Agent, turn: Turn, message: int | None = None) -> SendResult:
    """A finished turn as send's reply: completed or stopped at a question/error, else an error."""
    if turn.ended is Status.EXITED:
        raise RpcError(ErrorCode.AGENT_EXITED, f"agent {agent.id} exited during the turn", exit_data(agent))
    if turn.ended is Status.IDLE:  # the confirm timer gave up
        raise RpcError(ErrorCode.TIMEOUT, f"agent {agent.id} did not take the input", {"screen": agent.screen.text()})
    await agent.persisted()
    return SendResult(agent.info(), ended=turn.ended, answer=turn.answer, message=message)


async def wait(ctx: Context, p: WaitParams) -> AgentInfo:
    timeout = check_timeout(p.timeout)
    if not p.statuses:
        raise RpcError(ErrorCode.INVALID_PARAMS, "statuses must name at least one status")
    agent = await ctx.daemon.agents.lookup(p.agent)
    wanted = set(p.statuses)
    if isinstance(agent, ExitedAgent):
        if Status.EXITED in wanted:
            return agent.info()
        raise RpcError(ErrorCode.AGENT_EXITED, f"agent {agent.id} exited", exit_data(agent))
    try:
        reached = await agent.wait_status(wanted | {Status.EXITED}, timeout)
    except TimeoutError:
        raise RpcError(
            ErrorCode.TIMEOUT, f"agent {agent.id} is still {agent.status.value} after {timeout:g}s"
        ) from None
    if reached not in wanted:  # it exited: no other status will ever come
        raise RpcError(ErrorCode.AGENT_EXITED, f"agent {agent.id} exited", exit_data(agent))
    await agent.persisted()
    return agent.info()


async def output(ctx: Context, p: OutputParams) -> OutputResult:
    agent = await ctx.daemon.agents.lookup(p.agent)
    if isinstance(agent, ExitedAgent):  # what its row kept (see caod.exited)
        if p.mode is not OutputMode.LAST:
            agent = await with_screen(ctx.daemon.store, agent)
        text = {OutputMode.SCREEN: agent.screen or "", OutputMode.LAST: agent.answer,
                OutputMode.HISTORY: agent.history or agent.screen or ""}[p.mode]
        return OutputResult(agent=agent.id, status=agent.status, text=text)
    if p.mode is OutputMode.SCREEN:
        text: str | None = agent.screen.text()
    elif p.mode is OutputMode.LAST:
        text = agent.last_answer()
    else:
        _, lines, _ = agent.screen.history_and_lines()
        while lines and not lines[-1]:
            lines.pop()
        text = "\n".join(lines)
    return OutputResult(agent=agent.id, status=agent.status, text=text)


async def hook(ctx: Context, p: HookParams) -> HookResult:
    agent = ctx.daemon.agents.authenticate(p.token)
    status = agent.provider.spec.hook_events.get(p.event)
    applied = status is not None and agent.on_hook(status)
    return HookResult(agent.id, agent.status, applied)


async def kill(ctx: Context, p: KillParams) -> AgentInfo:
    if not p.grace >= 0:
        raise RpcError(ErrorCode.INVALID_PARAMS, "grace must be zero or more seconds")
    agent = await ctx.daemon.agents.lookup(p.agent)
    if isinstance(agent, Agent):
        await agent.terminate(p.grace)
    return agent.info()


async def resize(ctx: Context, p: ResizeParams) -> AgentInfo:
    agent = await ctx.daemon.agents.live(p.agent)
    if not (1 <= p.rows <= 500 and 1 <= p.cols <= 1000):
        raise RpcError(ErrorCode.INVALID_PARAMS, "size must be within 1..500 rows, 1..1000 cols")
    agent.resize(p.rows, p.cols)
    return agent.info()


async def attach(ctx: Context, p: AttachParams) -> AgentInfo:
    agent = await ctx.daemon.agents.live(p.agent)
    if (p.rows is None) != (p.cols is None):
        raise RpcError(ErrorCode.INVALID_PARAMS, "give both rows and cols, or neither")
    if p.rows is not None and p.cols is not None and (p.rows, p.cols) != (agent.rows, agent.cols):
        if not (1 <= p.rows <= 500 and 1 <= p.cols <= 1000):
            raise RpcError(ErrorCode.INVALID_PARAMS, "size must be within 1..500 rows, 1..1000 cols")
        agent.resize(p.rows, p.cols)

    async def bridge(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, leftover: bytes) -> None:
        """Raw bytes both ways until either side goes away; the agent keeps running."""
        agent.add_viewer(writer, p.redraw)
        try:
            if leftover:
                agent.write_raw(leftover)
            while agent.status is not Status.EXITED:
                data = await reader.read(65536)
                if not data:
                    break
                agent.write_raw(data)
        finally:
            agent.remove_viewer(writer)

    ctx.upgrade = bridge
    return agent.info()


async def gc(ctx: Context, p: GcParams) -> GcResult:
    if not p.older_than >= 0:
        raise RpcError(ErrorCode.INVALID_PARAMS, "older_than must be zero or more seconds")
    return await ctx.daemon.retention.collect(p.older_than, p.dry_run)


HANDLERS = {
    "agent.spawn": spawn,
    "agent.list": list_agents,
    "agent.get": get,
    "agent.send": send,
    "agent.wait": wait,
    "agent.output": output,
    "agent.kill": kill,
    "agent.resize": resize,
    "agent.attach": attach,
    "agent.hook": hook,
    "agent.gc": gc,
}
