"""Params and results of memory.*: notes agents and people keep across sessions (caod.memory).

Every call takes either an agent's `token` (the bridge's MCP tools: the caller's own
scopes, nothing else) or, from a person's caoctl, the context to resolve scopes by:
`project` (a folder; its git repository's root is the project), `session`, `profile`.
"""

from __future__ import annotations

from caod.protocol.wire import Params, Result


class MemoryInfo(Result):
    id: int
    scope: str  # global | project | session | agent
    owner: str  # "" (global), the project's folder, the session's name, the profile's name
    key: str
    content: str
    tags: list[str] = []
    source: str | None = None  # the agent that stored it, or "user"
    created_at: float = 0.0
    updated_at: float = 0.0


class MemoryList(Result):
    memories: list[MemoryInfo]


class MemoryStoreParams(Params):
    """Keep `content` under `key` (made from the content if none) in one scope; same key, same scope: replaced."""

    content: str
    key: str | None = None
    scope: str = "project"
    tags: list[str] = []
    token: str | None = None
    project: str | None = None
    session: str | None = None
    profile: str | None = None


class MemoryRecallParams(Params):
    """Memories matching `query` in the caller's scopes (or one), narrowest scope first, then by relevance."""

    query: str
    scope: str | None = None
    limit: int = 5
    all: bool = False  # a person only: every memory, whatever its scope and owner
    token: str | None = None
    project: str | None = None
    session: str | None = None
    profile: str | None = None


class MemoryListParams(Params):
    """Memories, newest first: the caller's scopes (an agent), else every one (a person), optionally one scope."""

    scope: str | None = None
    limit: int = 1000
    token: str | None = None
    project: str | None = None
    session: str | None = None
    profile: str | None = None


class MemoryKeyParams(Params):
    """One memory by key: in `scope`, else in the narrowest of the caller's scopes that has it."""

    key: str
    scope: str | None = None
    token: str | None = None
    project: str | None = None
    session: str | None = None
    profile: str | None = None


class MemoryImportParams(Params):
    """Memories from an export, stored as they are (same scope, owner and key: replaced)."""

    memories: list[MemoryInfo]


class MemoryImported(Result):
    stored: int
