"""The wire: JSON-RPC 2.0 envelopes and every method's params and result.

One module, imported by the daemon and by caoctl, so the two can never disagree.
Frames are NDJSON: one JSON object per line, at most MAX_FRAME bytes.
"""

from __future__ import annotations

import enum
from typing import Any

import msgspec

from caod.status import EventKind, Signal, Status

JSONRPC = "2.0"
MAX_FRAME = 1 << 20  # bytes in one request line, newline excluded
UNSET = msgspec.UNSET


class ErrorCode(enum.IntEnum):
    PARSE_ERROR = -32700
    INVALID_REQUEST = -32600
    METHOD_NOT_FOUND = -32601
    INVALID_PARAMS = -32602
    INTERNAL_ERROR = -32603
    # Domain errors: -32001 ... -32099
    NO_SUCH_AGENT = -32001
    AGENT_BUSY = -32002
    TIMEOUT = -32003
    PERMISSION_DENIED = -32004
    AGENT_EXITED = -32005
    NO_SUCH_PROVIDER = -32006
    SPAWN_FAILED = -32007
    NAME_TAKEN = -32008
    SHUTTING_DOWN = -32009
    NO_SUCH_PROFILE = -32010
    NO_SUCH_SESSION = -32011
    INVALID_PROFILE = -32012
    BAD_DIRECTORY = -32013


# ---------------------------------------------------------------- envelopes


class Request(msgspec.Struct, omit_defaults=True):
    jsonrpc: str
    method: str
    # Absent id = notification (no reply); null is a valid (if odd) id.
    id: int | str | None | msgspec.UnsetType = UNSET
    params: msgspec.Raw = msgspec.Raw(b"null")


class ErrorObject(msgspec.Struct, omit_defaults=True):
    code: int
    message: str
    data: Any = UNSET


class Response(msgspec.Struct):
    # No omit_defaults: "jsonrpc" must be in every response (result/error are
    # UNSET when absent, and msgspec always omits UNSET fields).
    id: int | str | None
    jsonrpc: str = JSONRPC
    result: Any = UNSET
    error: ErrorObject | msgspec.UnsetType = UNSET


class Notification(msgspec.Struct):
    method: str
    params: Any
    jsonrpc: str = JSONRPC


# ---------------------------------------------------------------- shared shapes


class Params(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Base for method params: unknown fields are an invalid-params error."""


class Result(msgspec.Struct):
    """Base for method results."""


class AgentInfo(Result):
    id: str
    name: str | None
    provider: str
    status: Status
    status_since: float
    pid: int | None
    cwd: str
    command: list[str]
    created_at: float
    rows: int
    cols: int
    exit_code: int | None = None
    exit_signal: int | None = None
    session: str | None = None
    profile: str | None = None
    role: str | None = None  # supervisor | developer | reviewer
    parent: str | None = None  # the agent that started this one (handoff/assign)


class Event(Result, omit_defaults=True):
    seq: int
    ts: float
    kind: EventKind
    agent: str
    old: Status | None = None
    new: Status | None = None
    signal: Signal | None = None
    detail: dict[str, Any] = {}


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


# ---------------------------------------------------------------- events.*


class SubscribeParams(Params):
    agent: str | None = None
    replay: int = 0  # send this many recent events first, then live ones


class Subscribed(Result):
    seq: int  # the last event sequence number at subscription time


class EventsParams(Params):
    agent: str | None = None
    since: int = 0  # events with seq > since
    limit: int = 200


class EventList(Result):
    events: list[Event]


# ---------------------------------------------------------------- profile.*


class ProfileInfo(Result, omit_defaults=True):
    name: str
    description: str
    source: str  # "builtin" or "user"
    path: str
    provider: str | None = None
    model: str | None = None
    role: str = "developer"
    allowed_tools: list[str] | None = None
    mcp_servers: dict[str, Any] = {}
    tags: list[str] = []
    system_prompt: str | None = None  # only from profile.get


class ProfileRef(Params):
    name: str


class ProfileList(Result):
    profiles: list[ProfileInfo]


class InstallParams(Params):
    """Install a profile into the user store: Markdown `text`, or copy built-in `builtin`."""

    text: str | None = None
    builtin: str | None = None
    source: str | None = None  # where the text came from, for messages
    force: bool = False  # replace a user profile of the same name


# ---------------------------------------------------------------- session.*


class SessionInfo(Result):
    name: str
    cwd: str
    created_at: float
    active: bool
    supervisor: str | None
    agents: list[AgentInfo]


class LaunchParams(Params):
    profile: str
    provider: str | None = None
    session: str | None = None  # generated when absent
    cwd: str | None = None
    model: str | None = None
    yolo: bool = False
    task: str | None = None
    env: dict[str, str] = {}  # for every agent of the session (workers inherit it)
    rows: int = 40
    cols: int = 120


class LaunchResult(Result):
    session: SessionInfo
    supervisor: AgentInfo


class SessionRef(Params):
    session: str


class SessionListParams(Params):
    all: bool = False  # include ended sessions


class SessionList(Result):
    sessions: list[SessionInfo]


class SessionSendParams(Params):
    session: str
    text: str
    agent: str | None = None  # default: the session's supervisor
    wait: bool = True
    timeout: float = 600.0


class ShutdownParams(Params):
    session: str | None = None
    all: bool = False


class ShutdownResult(Result):
    sessions: list[str]
    agents: int


# ---------------------------------------------------------------- orch.* (called by agents, with their token)


class HandoffParams(Params):
    token: str
    agent_profile: str
    message: str
    timeout: float = 600.0
    working_directory: str | None = None
    provider: str | None = None
    model: str | None = None


class HandoffResult(Result):
    success: bool
    output: str | None
    agent_id: str | None
    error: str | None = None


class AssignParams(Params):
    token: str
    agent_profile: str
    message: str
    working_directory: str | None = None
    provider: str | None = None
    model: str | None = None


class AssignResult(Result):
    agent_id: str
    session: str


class SendMessageParams(Params):
    token: str
    receiver_id: str
    message: str


class AnswerParams(Params):
    token: str
    agent_id: str
    answer: str


class TokenParams(Params):
    token: str


class MessageInfo(Result):
    id: int
    sender: str  # an agent id, or "user"
    receiver: str
    status: str  # pending | delivered
    created_at: float
    delivered_at: float | None = None
    body: str | None = None


# ---------------------------------------------------------------- inbox.* (people)


class InboxSendParams(Params):
    receiver: str
    message: str


class InboxListParams(Params):
    agent: str | None = None
    pending_only: bool = False
    limit: int = 200


class MessageList(Result):
    messages: list[MessageInfo]


EVENT_NOTIFICATION = "event"

# method -> (params type, result type). The daemon registers a handler for each;
# the client decodes results with the same types.
METHODS: dict[str, tuple[type[Params], type[Result]]] = {
    "daemon.ping": (Empty, DaemonStatus),
    "daemon.status": (Empty, DaemonStatus),
    "daemon.shutdown": (Empty, Ok),
    "agent.spawn": (SpawnParams, AgentInfo),
    "agent.list": (ListParams, AgentList),
    "agent.get": (AgentRef, AgentInfo),
    "agent.send": (SendParams, SendResult),
    "agent.wait": (WaitParams, AgentInfo),
    "agent.output": (OutputParams, OutputResult),
    "agent.kill": (KillParams, AgentInfo),
    "agent.resize": (ResizeParams, AgentInfo),
    "agent.attach": (AttachParams, AgentInfo),
    "agent.hook": (HookParams, HookResult),
    "events.subscribe": (SubscribeParams, Subscribed),
    "events.list": (EventsParams, EventList),
    "profile.list": (Empty, ProfileList),
    "profile.get": (ProfileRef, ProfileInfo),
    "profile.install": (InstallParams, ProfileInfo),
    "session.launch": (LaunchParams, LaunchResult),
    "session.list": (SessionListParams, SessionList),
    "session.get": (SessionRef, SessionInfo),
    "session.send": (SessionSendParams, SendResult),
    "session.shutdown": (ShutdownParams, ShutdownResult),
    "orch.handoff": (HandoffParams, HandoffResult),
    "orch.assign": (AssignParams, AssignResult),
    "orch.send_message": (SendMessageParams, MessageInfo),
    "orch.answer_user_prompt": (AnswerParams, AgentInfo),
    "orch.list_agents": (TokenParams, AgentList),
    "inbox.send": (InboxSendParams, MessageInfo),
    "inbox.list": (InboxListParams, MessageList),
}

encoder = msgspec.json.Encoder()


def encode_line(msg: Any) -> bytes:
    return encoder.encode(msg) + b"\n"
