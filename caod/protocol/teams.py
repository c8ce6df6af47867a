"""Params and results of profile.*, session.*, orch.* (agents, with their token) and inbox.*."""

from __future__ import annotations

from typing import Any

from caod.protocol.wire import AgentInfo, NonNegInt64, Params, Result

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
    worktree: bool = False  # workers from it run in their own git worktree
    memory: bool = True  # its agents get the memories relevant to their first task (caod.memory)
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
    isolate_home: bool = False  # a private HOME per agent (workers inherit it), as agent.spawn's
    # Handoffs, assigns and messages as Markdown files in <cwd>/.caod/handover/<session>/. Off unless asked:
    # in a repository they are new untracked files, which a team's merges must not find.
    handover: bool = False


class LaunchResult(Result):
    session: SessionInfo
    supervisor: AgentInfo


class SessionRef(Params):
    session: str


class SessionExport(Result):
    markdown: str  # the whole conversation as one document (caod.handover.export)


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
    use_worktree: bool = False  # run the worker in its own git worktree (caod.worktrees)


class HandoffResult(Result):
    success: bool
    output: str | None
    agent_id: str | None
    error: str | None = None
    # The worker stopped at a prompt: answer it (answer_user_prompt), then get_result.
    waiting: bool = False
    question: str | None = None
    options: list[str] = []


class AssignParams(Params):
    """Start a worker on a task and return at once; `providers` or `count` start several (caod.fanout)."""

    token: str
    agent_profile: str
    message: str
    working_directory: str | None = None
    provider: str | None = None
    model: str | None = None
    use_worktree: bool = False  # run the worker in its own git worktree (caod.worktrees)
    # Fan-out, each worker in its own worktree: one worker per entry (a name may repeat),
    # or `count` workers of `provider` (1..8). Not both.
    providers: list[str] | None = None
    count: int | None = None


class AssignResult(Result):
    agent_id: str  # the first (or only) worker
    session: str
    agent_ids: list[str] = []  # every worker started, in order (one per providers entry or count)


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
    limit: NonNegInt64 = 200


class MessageList(Result):
    messages: list[MessageInfo]
