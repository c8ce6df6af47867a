"""The MCP tools `get_result` and `end_worker`: a supervisor collects and ends its workers.

Registered on the bridge's server by caoctl.mcp_bridge; each is one orch.* call.
"""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.types import ToolAnnotations
from pydantic import Field
from typing_extensions import NotRequired, TypedDict

from caoctl.mcp_bridge import (
    CALL_MARGIN,
    QUICK_TIMEOUT,
    AgentOut,
    _agent_out,
    _progress_interval,
    _unwrap,
    _with_progress,
)
from caod.protocol import EndWorkerParams, GetResultParams

GET_RESULT_DOC = """\
Get the answer of the last finished turn of a worker you started (handoff or
assign). With `wait` (the default) and the worker still on a turn, waits up
to `timeout` seconds for its end (use it after answer_user_prompt). Returns
{agent_id, status, done, output, ended, ended_at}: `done` when the result is
there and no newer turn runs; `ended`: completed, error or exited; `error`
says why there is no result yet."""

END_WORKER_DOC = """\
Stop a worker you started (handoff or assign) when you need it no more; only
its parent may. Its results stay readable with get_result."""

GET_RESULT_DOC, END_WORKER_DOC = _unwrap(GET_RESULT_DOC), _unwrap(END_WORKER_DOC)


class ResultOut(TypedDict):
    agent_id: str
    status: str
    done: bool
    output: str | None
    ended: str | None
    ended_at: float | None
    error: NotRequired[str]


def register(server: Any, link: Any) -> None:
    @server.tool(description=GET_RESULT_DOC,
                 annotations=ToolAnnotations(title="Get a worker's result", read_only_hint=True))
    async def get_result(
        agent_id: Annotated[str, Field(description="Id of the worker")],
        ctx: Context,
        wait: Annotated[bool, Field(description="Wait for the end of the turn the worker is on")] = True,
        timeout: Annotated[int, Field(ge=1, description="Seconds to wait at most")] = 600,
    ) -> ResultOut:
        params = GetResultParams(token=link.require_token(), agent_id=agent_id, wait=wait, timeout=float(timeout))
        budget = (timeout if wait else 0) + CALL_MARGIN
        res = await _with_progress(ctx, timeout, _progress_interval(),
                                   lambda: link.call("orch.get_result", params, budget))
        out = ResultOut(agent_id=res.agent_id, status=res.status, done=res.done, output=res.output,
                        ended=res.ended, ended_at=res.ended_at)
        if res.error is not None:
            out["error"] = res.error
        return out

    @server.tool(description=END_WORKER_DOC, annotations=ToolAnnotations(title="End a worker"))
    async def end_worker(
        agent_id: Annotated[str, Field(description="Id of the worker to stop")],
    ) -> AgentOut:
        params = EndWorkerParams(token=link.require_token(), agent_id=agent_id)
        res = await link.call("orch.end_worker", params, QUICK_TIMEOUT)
        return _agent_out(res)
