"""The agent-facing calls on workers' results: orch.get_result, orch.end_worker,
and the team list of orch.list_agents. The caller comes from its token."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from caod.agent import Agent
from caod.exited import ExitedAgent
from caod.protocol import (
    AgentInfo,
    EndWorkerParams,
    ErrorCode,
    GetResultParams,
    TeamAgent,
    TeamList,
    TokenParams,
    WorkerResult,
)
from caod.results.keeper import END_GRACE_S
from caod.rpc import RpcError

if TYPE_CHECKING:
    from caod.daemon import Daemon


async def _member(daemon: "Daemon", token: str, ref: str) -> tuple[Agent, Agent | ExitedAgent]:
    """(the calling agent, the agent `ref` of its own session)."""
    caller = daemon.agents.authenticate(token)
    if caller.session is None:
        raise RpcError(ErrorCode.PERMISSION_DENIED, f"agent {caller.id} is not part of a session")
    target = await daemon.agents.lookup(ref)
    if target.session != caller.session:
        raise RpcError(ErrorCode.NO_SUCH_AGENT, f"no agent {ref} in session {caller.session}")
    return caller, target


async def get_result(daemon: "Daemon", p: GetResultParams) -> WorkerResult:
    if p.wait and not p.timeout > 0:
        raise RpcError(ErrorCode.INVALID_PARAMS, "timeout must be a positive number of seconds")
    _caller, target = await _member(daemon, p.token, p.agent_id)
    if target.info().parent is None:
        raise RpcError(ErrorCode.INVALID_PARAMS, f"agent {target.id} is not a worker (handoff and assign start workers)")
    try:
        found = await daemon.results.latest(target.id, p.wait, p.timeout)
        late = None
    except TimeoutError:
        found, late = None, f"no result within {p.timeout:g}s"
    status = target.info().status.value
    running = daemon.results.running(target.id)
    if found is None:
        why = late or ("its turn is still under way" if running else "it has no result")
        return WorkerResult(target.id, status, False, error=f"agent {target.id} is {status}: {why}")
    return WorkerResult(target.id, status, not running, found.output, found.ended.value, found.ended_at,
                        error=f"agent {target.id} is working on a newer turn" if running else None)


async def end_worker(daemon: "Daemon", p: EndWorkerParams) -> AgentInfo:
    caller, target = await _member(daemon, p.token, p.agent_id)
    parent = target.info().parent
    if parent != caller.id:
        raise RpcError(ErrorCode.PERMISSION_DENIED,
                       f"permission denied: only the agent that started {target.id} may end it "
                       f"(it was started by {parent or 'a person'})")
    if isinstance(target, Agent) and target.status.live:
        daemon.notices.expect_exit([target.id])  # its parent asked: no "exited" notice back
        await target.terminate(END_GRACE_S)
    return target.info()


async def team(daemon: "Daemon", p: TokenParams) -> TeamList:
    caller = daemon.agents.authenticate(p.token)
    if caller.session is None:
        raise RpcError(ErrorCode.PERMISSION_DENIED, f"agent {caller.id} is not part of a session")
    infos = await daemon.agents.infos(session=caller.session)
    firsts = await daemon.results.first_lines([i.id for i in infos if i.parent])
    return TeamList([TeamAgent(**msgspec.structs.asdict(i), last_answer=firsts.get(i.id)) for i in infos])
