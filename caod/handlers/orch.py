"""orch.*: the coordination tools agents reach through the MCP bridge."""

from __future__ import annotations

from caod.protocol import (
    AgentInfo,
    AnswerParams,
    AssignParams,
    AssignResult,
    EndWorkerParams,
    GetResultParams,
    HandoffParams,
    HandoffResult,
    MessageInfo,
    SendMessageParams,
    TeamList,
    TokenParams,
    WorkerResult,
)
from caod.results import tools
from caod.rpc import Context


async def handoff(ctx: Context, p: HandoffParams) -> HandoffResult:
    return await ctx.daemon.orchestrator.handoff(p)


async def assign(ctx: Context, p: AssignParams) -> AssignResult:
    return await ctx.daemon.orchestrator.assign(p)


async def send_message(ctx: Context, p: SendMessageParams) -> MessageInfo:
    return await ctx.daemon.orchestrator.send_message(p)


async def answer_user_prompt(ctx: Context, p: AnswerParams) -> AgentInfo:
    return await ctx.daemon.orchestrator.answer_user_prompt(p)


async def list_agents(ctx: Context, p: TokenParams) -> TeamList:
    return await tools.team(ctx.daemon, p)


async def get_result(ctx: Context, p: GetResultParams) -> WorkerResult:
    return await tools.get_result(ctx.daemon, p)


async def end_worker(ctx: Context, p: EndWorkerParams) -> AgentInfo:
    return await tools.end_worker(ctx.daemon, p)


HANDLERS = {
    "orch.handoff": handoff,
    "orch.assign": assign,
    "orch.send_message": send_message,
    "orch.answer_user_prompt": answer_user_prompt,
    "orch.list_agents": list_agents,
    "orch.get_result": get_result,
    "orch.end_worker": end_worker,
}
