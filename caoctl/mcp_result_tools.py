"""The MCP tools `get_result` and `end_worker`: a supervisor collects and ends its workers.

Registered on the bridge's server by caoctl.mcp_bridge; each is one orch.* call.
"""

from __future__ import annotations

from typing import Any

from caoctl.mcp_bridge import (
    AGENT_OUT,
    CALL_MARGIN,
    QUICK_TIMEOUT,
    _agent_out,
    _progress_interval,
    _unwrap,
    _with_progress,
)
from caoctl.mcp_tool import BOOLEAN, INTEGER, NUMBER, STRING, Arg, Shape, Tool, nullable
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


RESULT_OUT = Shape("ResultOut", {"agent_id": STRING, "status": STRING, "done": BOOLEAN,
                                 "output": nullable(STRING), "ended": nullable(STRING),
                                 "ended_at": nullable(NUMBER), "error": STRING}, optional=frozenset({"error"}))


def tools(link: Any) -> list[Tool]:
    """get_result and end_worker, on the bridge's DaemonLink."""

    def get_result(call, agent_id, wait, timeout):
        params = GetResultParams(token=link.require_token(), agent_id=agent_id, wait=wait, timeout=float(timeout))
        budget = (timeout if wait else 0) + CALL_MARGIN
        res = _with_progress(call, timeout, _progress_interval(),
                             lambda: link.call("orch.get_result", params, budget, call))
        out = {"agent_id": res.agent_id, "status": res.status, "done": res.done, "output": res.output,
               "ended": res.ended, "ended_at": res.ended_at}
        if res.error is not None:
            out["error"] = res.error
        return out

    def end_worker(call, agent_id):
        params = EndWorkerParams(token=link.require_token(), agent_id=agent_id)
        return _agent_out(link.call("orch.end_worker", params, QUICK_TIMEOUT, call))

    return [
        Tool("get_result", GET_RESULT_DOC, "Get a worker's result", [
            Arg("agent_id", STRING, "Id of the worker"),
            Arg("wait", BOOLEAN, "Wait for the end of the turn the worker is on", True),
            Arg("timeout", INTEGER, "Seconds to wait at most", 600, minimum=1),
        ], RESULT_OUT, get_result, read_only=True),
        Tool("end_worker", END_WORKER_DOC, "End a worker", [
            Arg("agent_id", STRING, "Id of the worker to stop"),
        ], AGENT_OUT, end_worker),
    ]
