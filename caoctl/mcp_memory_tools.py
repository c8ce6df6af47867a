"""The MCP tools `memory_store`, `memory_recall` and `memory_forget`: an agent keeps notes
across sessions, in its own scopes only (caod.memory). Registered by caoctl.mcp_bridge."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.types import ToolAnnotations
from pydantic import Field
from typing_extensions import TypedDict

from caod.protocol import MemoryKeyParams, MemoryRecallParams, MemoryStoreParams

CALL_TIMEOUT = 30.0
Scope = Literal["agent", "session", "project", "global"]

STORE_DOC = (
    "Keep a note for later sessions: a fact about the project, a decision, how to build or test. "
    "`scope`: project (default: this git repository, seen by every agent working in it), session (this "
    "team only), agent (agents of your profile), global (every agent). The same `key` in the same scope "
    "replaces the note; without a key one is made from the content. Returns the stored note."
)
RECALL_DOC = (
    "Find notes kept earlier (by you, your team or people) that match `query`, in your scopes: agent, "
    "session, project, global, narrowest first, then by relevance. Returns {memories: [{key, scope, "
    "content, tags, updated_at}]}."
)
FORGET_DOC = "Remove the note with `key` (in `scope`, else in the narrowest of your scopes that has it)."


class MemoryOut(TypedDict):
    key: str
    scope: str
    content: str
    tags: list[str]
    updated_at: float


class RecallOut(TypedDict):
    memories: list[MemoryOut]


def _out(m: Any) -> MemoryOut:
    return MemoryOut(key=m.key, scope=m.scope, content=m.content, tags=list(m.tags), updated_at=m.updated_at)


def register(server: Any, link: Any) -> None:
    @server.tool(description=STORE_DOC, annotations=ToolAnnotations(title="Keep a note"))
    async def memory_store(
        content: Annotated[str, Field(description="The note")],
        key: Annotated[str | None, Field(description="A short name for it (the same key replaces it)")] = None,
        scope: Annotated[Scope, Field(description="Who will see it")] = "project",
        tags: Annotated[list[str] | None, Field(description="Words to file it under")] = None,
    ) -> MemoryOut:
        params = MemoryStoreParams(token=link.require_token(), content=content, key=key, scope=scope,
                                   tags=list(tags or []))
        return _out(await link.call("memory.store", params, CALL_TIMEOUT))

    @server.tool(description=RECALL_DOC, annotations=ToolAnnotations(title="Find notes", read_only_hint=True))
    async def memory_recall(
        query: Annotated[str, Field(description="Words to look for")],
        scope: Annotated[Scope | None, Field(description="Only this scope")] = None,
        limit: Annotated[int, Field(ge=1, le=100, description="How many notes at most")] = 5,
    ) -> RecallOut:
        params = MemoryRecallParams(token=link.require_token(), query=query, scope=scope, limit=limit)
        res = await link.call("memory.recall", params, CALL_TIMEOUT)
        return RecallOut(memories=[_out(m) for m in res.memories])

    @server.tool(description=FORGET_DOC, annotations=ToolAnnotations(title="Forget a note", destructive_hint=True))
    async def memory_forget(
        key: Annotated[str, Field(description="The note's key")],
        scope: Annotated[Scope | None, Field(description="The scope it is in")] = None,
    ) -> RecallOut:
        params = MemoryKeyParams(token=link.require_token(), key=key, scope=scope)
        res = await link.call("memory.forget", params, CALL_TIMEOUT)
        return RecallOut(memories=[_out(m) for m in res.memories])
