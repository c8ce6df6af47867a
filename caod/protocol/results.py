"""Params and results of orch.get_result, orch.end_worker and orch.list_agents (agents, with their token)."""

from __future__ import annotations

from caod.protocol.wire import AgentInfo, Params, Result


class GetResultParams(Params):
    """A worker's latest result; `wait`: if its turn is under way, wait up to `timeout` s for its end."""

    token: str
    agent_id: str
    wait: bool = True
    timeout: float = 600.0


class WorkerResult(Result):
    agent_id: str
    status: str  # the worker's status now
    done: bool  # a result is there and no turn is under way
    output: str | None = None  # its answer (completed), else what its screen showed
    ended: str | None = None  # the status that ended its turn: completed | error | exited
    ended_at: float | None = None
    error: str | None = None  # why there is no result (yet)


class EndWorkerParams(Params):
    """Stop a worker the calling agent started (only its parent may)."""

    token: str
    agent_id: str


class TeamAgent(AgentInfo):
    last_answer: str | None = None  # the first line of its latest result


class TeamList(Result):
    agents: list[TeamAgent]
