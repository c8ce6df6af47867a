"""orch.*: the coordination tools agents reach through the MCP bridge."""

from __future__ import annotations

from caod.protocol import (
    AgentInfo,
    AgentList,
    AnswerParams,
    AssignParams,
    AssignResult,
    HandoffParams,
    HandoffResult,
    MessageInfo,
    SendMessageParams,
    TokenParams,
)
from caod.rpc import Context


async def handoff(ctx: Context, p: HandoffParams) -> HandoffResult:
    return await ctx.daemon.orchestrator.handoff(p)


async def assign(ctx: Context, p: AssignParams) -> AssignResult:
    return await ctx.daemon.orchestrator.assign(p)


async def send_message(ctx: Context, p: SendMessageParams) -> MessageInfo:
    return await ctx.daemon.orchestrator.send_message(p)


async def answer_user_prompt(ctx: Context, p: AnswerParams) -> AgentInfo:
    return await ctx.daemon.orchestrator.answer_user_prompt(p)


async def list_agents(ctx: Context, p: TokenParams) -> AgentList:
    return await ctx.daemon.orchestrator.list_agents(p)


HANDLERS = {
    "orch.handoff": handoff,
    "orch.assign": assign,
    "orch.send_message": send_message,
    "orch.answer_user_prompt": answer_user_prompt,
    "orch.list_agents": list_agents,
}
