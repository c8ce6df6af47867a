"""Params and results of flow.*: scheduled runs of one agent session (caod.flows)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from caod.protocol.wire import Params, Result


class FlowRun(Result, omit_defaults=True):
    id: int
    flow: str
    trigger: str  # schedule | missed (a slot passed while caod was down or asleep) | manual
    started_at: float
    outcome: str  # launched | completed | skipped | failed
    due: float | None = None  # the slot it was for (None: run by hand)
    reason: str | None = None  # why it was skipped or failed
    session: str | None = None
    agent: str | None = None  # the session's supervisor
    answer: str | None = None  # the supervisor's answer to the prompt (completed)
    ended_at: float | None = None


class FlowInfo(Result, omit_defaults=True):
    name: str
    schedule: str
    agent_profile: str
    provider: str
    enabled: bool
    path: str  # the file it was added from
    cwd: str
    session: str  # the session each run launches
    added_at: float
    script: str | None = None
    misfire: str = "run"  # run (once, at start) | skip
    next_run: float | None = None  # None while disabled
    last_run: FlowRun | None = None
    prompt: str | None = None  # only from flow.show


class FlowAddParams(Params):
    """Add a flow from its file's text; `path` is the file (its script is found beside it)."""

    text: str
    path: str
    replace: bool = False  # replace a flow of the same name


class FlowRef(Params):
    """One flow, by name."""

    name: str


class FlowListParams(Params):
    """Every flow, with its next and last run."""


class FlowList(Result, omit_defaults=True):
    flows: list[FlowInfo]
    next_run: float | None = None  # the scheduler's next timer: the earliest next run of an enabled flow
    next_flow: str | None = None


class FlowHistoryParams(Params):
    """The newest runs of one flow, oldest first."""

    name: str
    limit: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 20


class FlowHistory(Result):
    runs: list[FlowRun]
