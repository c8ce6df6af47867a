"""Params and results of daemon.*, agent.* and events.*."""

from __future__ import annotations

import enum

from caod.protocol.wire import AgentInfo, Event, NonNegInt64, Params, Result
from caod.status import Status

# ---------------------------------------------------------------- daemon.*


class Empty(Params):
    pass


class Ok(Result):
    ok: bool = True


class DaemonStatus(Result):
    version: str
    pid: int
    socket: str
    home: str
    started_at: float
    uptime_s: float
    agents: int
    agents_live: int
    connections: int = 0  # clients connected now
    calls: int = 0  # calls running now, over every connection (this one included)


# ---------------------------------------------------------------- agent.*


class SpawnParams(Params):
    provider: str
    cwd: str | None = None
    name: str | None = None
    env: dict[str, str] = {}
    args: list[str] = []  # extra arguments appended to the provider's command
    rows: int = 40
    cols: int = 120
    # A private HOME under the daemon's home, with the provider's config files
    # (onboarding, trust, updaters off). Also on for every agent when the
    # daemon runs with CAOD_ISOLATE_HOME=1 (tests, CI).
    isolate_home: bool = False
    yolo: bool = False  # the provider's flags that skip permission prompts (its yolo_args)


class AgentRef(Params):
    agent: str  # id or name


class ListParams(Params):
    live_only: bool = False


class AgentList(Result):
    agents: list[AgentInfo]


class SendParams(Params):
    agent: str
    text: str
    wait: bool = False  # return only when the turn is over (see status.TURN_OVER)
    timeout: float = 600.0


class SendResult(Result):
    agent: AgentInfo
    ended: Status | None = None  # with wait: the status that ended the turn
    answer: str | None = None  # with wait, when the turn completed
    message: int | None = None  # session.send: the id of the inbox message that carried the text


class WaitParams(Params):
    agent: str
    statuses: list[Status]
    timeout: float = 600.0


class OutputMode(str, enum.Enum):
    SCREEN = "screen"  # the rendered screen
    LAST = "last"  # the last answer, extracted by the provider
    HISTORY = "history"  # scrolled-off lines plus the screen


class OutputParams(Params):
    agent: str
    mode: OutputMode = OutputMode.SCREEN


class OutputResult(Result):
    agent: str
    status: Status
    text: str | None


class HookParams(Params):
    """A CLI-native event reported by `caoctl hook` from inside the agent."""

    token: str
    event: str  # the CLI's own name (Stop, UserPromptSubmit, agent-turn-complete, ...)


class HookResult(Result):
    agent: str
    status: Status
    applied: bool  # False: unknown event, or the screen contradicts it


class KillParams(Params):
    agent: str
    grace: float = 3.0  # seconds between SIGTERM and SIGKILL


class ResizeParams(Params):
    agent: str
    rows: int
    cols: int


class AttachParams(Params):
    agent: str
    rows: int | None = None  # resize the agent to the viewer's terminal
    cols: int | None = None
    redraw: bool = True  # send the current screen first


class GcParams(Params):
    """Remove exited agents' rows, folders and transcripts (never one of an active session)."""

    older_than: float = 0.0  # seconds since it exited; 0: every exited agent
    dry_run: bool = False  # say what would go, remove nothing


class GcAgent(Result):
    id: str
    name: str | None
    exited_at: float
    bytes: int  # its folder and transcripts on disk


class GcResult(Result):
    agents: list[GcAgent]
    leftovers: list[str]  # files and folders of agents with no row (e.g. a spawn that failed)
    bytes: int
    dry_run: bool


# ---------------------------------------------------------------- events.*


class SubscribeParams(Params):
    agent: str | None = None
    replay: NonNegInt64 = 0  # send this many recent events first, then live ones


class Subscribed(Result):
    seq: int  # the last event sequence number at subscription time


class EventsParams(Params):
    agent: str | None = None
    since: NonNegInt64 = 0  # events with seq > since
    limit: NonNegInt64 = 200


class EventList(Result):
    events: list[Event]
