"""Params and results of workflow.*: fixed sequences of turns across participants (caod.workflows)."""

from __future__ import annotations

from caod.protocol.wire import Params, Result


class WorkflowRef(Params):
    """One workflow, by name."""

    name: str


class WorkflowRunParams(Params):
    """Run a workflow on a task; participants are profiles or providers, one per index (one: every step)."""

    workflow: str
    task: str
    participants: list[str]
    cwd: str | None = None
    handover: bool = True  # write each step as a Markdown file under <cwd>/.caod/handover/<run>/
    step_timeout: float = 1800.0  # seconds one step may take


class RunRef(Params):
    """One workflow run, by id (or a unique prefix of it)."""

    run: str


class RunWaitParams(Params):
    """Wait until `run` has more than `seen` steps ended, or has ended itself (at most `timeout` seconds)."""

    run: str
    seen: int = 0
    timeout: float = 60.0


class RunListParams(Params):
    """The newest runs first, at most `limit`."""

    limit: int = 50


class WorkflowStepInfo(Result):
    name: str
    role: str
    participant: int
    instruction: str


class WorkflowInfo(Result):
    name: str
    description: str
    source: str  # "builtin" or the file's path
    participants: int  # distinct participant indexes its steps use
    steps: list[WorkflowStepInfo]


class WorkflowList(Result):
    workflows: list[WorkflowInfo]
    problems: list[str]  # one line per user file that could not be read


class StepRecord(Result):
    index: int  # 1-based
    name: str
    role: str
    participant: int
    status: str  # pending | running | done | failed
    agent: str | None = None
    provider: str | None = None
    input: str | None = None  # exactly what the agent was sent
    output: str | None = None  # its extracted answer
    error: str | None = None
    started_at: float | None = None
    ended_at: float | None = None
    handover: str | None = None  # the step's handover file


class RunInfo(Result):
    id: str
    workflow: str
    task: str
    participants: list[str]
    cwd: str
    status: str  # running | completed | stopped | interrupted
    created_at: float
    steps: list[StepRecord]
    reason: str | None = None  # why it stopped
    ended_at: float | None = None
    handover_dir: str | None = None


class RunList(Result):
    runs: list[RunInfo]
