"""The JSON-RPC 2.0 envelopes, error codes and the shapes every namespace shares."""

from __future__ import annotations

import enum
from typing import Annotated, Any

import msgspec

from caod.status import EventKind, Signal, Status

JSONRPC = "2.0"
MAX_FRAME = 1 << 20  # bytes in one request line, newline excluded
UNSET = msgspec.UNSET
# A count or sequence number as params carry it: never negative, and small enough
# for SQLite (a signed 64-bit integer), so a huge one is invalid params, not an
# OverflowError inside a query.
NonNegInt64 = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]


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
    STORAGE_FAILED = -32020  # the database could not store (or read) what the call needed
    # Worktrees (caod.worktrees)
    NOT_A_REPOSITORY = -32030  # use_worktree in a folder outside a git repository
    NO_SUCH_WORKTREE = -32031
    GIT_FAILED = -32032  # git refused (its own message follows)
    # Notifications (caod.notify)
    NO_SUCH_SINK = -32040
    INVALID_SINK = -32041  # a sink that could not work as given (no notify-send, no such program, a bad URL)
    NO_SUCH_MEMORY = -32050  # memory.show / memory.forget of a key the caller has not
    # Flows (caod.flows)
    NO_SUCH_FLOW = -32060
    INVALID_FLOW = -32061  # refused at flow.add: its file, schedule, profile or script
    NO_SUCH_WORKFLOW = -32070  # no workflow file by that name
    INVALID_WORKFLOW = -32071  # a workflow file that cannot be used (its message says why)
    NO_SUCH_RUN = -32072  # no workflow run by that id


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
    # Why it holds its status, as drawn or observed: the question while waiting_user_answer,
    # the error while `error`, what it printed last when it exited while starting.
    reason: str | None = None


class Event(Result, omit_defaults=True):
    seq: int
    ts: float
    kind: EventKind
    agent: str
    old: Status | None = None
    new: Status | None = None
    signal: Signal | None = None
    detail: dict[str, Any] = {}
