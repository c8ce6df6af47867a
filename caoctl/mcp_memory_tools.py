"""The MCP tools `memory_store`, `memory_recall` and `memory_forget`: an agent keeps notes
across sessions, in its own scopes only (caod.memory). Listed by caoctl.mcp_bridge."""

from __future__ import annotations

from typing import Any

from caoctl.mcp_tool import INTEGER, NUMBER, STRING, Arg, Shape, Tool, array, nullable, one_of
from caod.protocol import MemoryKeyParams, MemoryRecallParams, MemoryStoreParams

CALL_TIMEOUT = 30.0
SCOPE = one_of("agent", "session", "project", "global")

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
FORGET_DOC = ("Remove the note with `key` (in `scope`, else in the narrowest of your scopes that has it). "
              "Returns {memories: [the note removed]}.")

MEMORY_OUT = Shape("MemoryOut", {"key": STRING, "scope": STRING, "content": STRING, "tags": array(STRING),
                                 "updated_at": NUMBER})
MEMORIES_OUT = Shape("MemoriesOut", {"memories": array(MEMORY_OUT.ref())})


def _out(m: Any) -> dict:
    return {"key": m.key, "scope": m.scope, "content": m.content, "tags": list(m.tags), "updated_at": m.updated_at}


def tools(link: Any) -> list[Tool]:
    """memory_store, memory_recall and memory_forget, on the bridge's DaemonLink."""

    def memory_store(call, content, key, scope, tags):
        params = MemoryStoreParams(token=link.require_token(), content=content, key=key, scope=scope,
                                   tags=list(tags or []))
        return _out(link.call("memory.store", params, CALL_TIMEOUT, call))

    def memory_recall(call, query, scope, limit):
        params = MemoryRecallParams(token=link.require_token(), query=query, scope=scope, limit=limit)
        return {"memories": [_out(m) for m in link.call("memory.recall", params, CALL_TIMEOUT, call).memories]}

    def memory_forget(call, key, scope):
        params = MemoryKeyParams(token=link.require_token(), key=key, scope=scope)
        return {"memories": [_out(m) for m in link.call("memory.forget", params, CALL_TIMEOUT, call).memories]}

    return [
        Tool("memory_store", STORE_DOC, "Keep a note", [
            Arg("content", STRING, "The note"),
            Arg("key", nullable(STRING), "A short name for it (the same key replaces it)", None),
            Arg("scope", SCOPE, "Who will see it", "project"),
            Arg("tags", nullable(array(STRING)), "Words to file it under", None),
        ], MEMORY_OUT, memory_store),
        Tool("memory_recall", RECALL_DOC, "Find notes", [
            Arg("query", STRING, "Words to look for"),
            Arg("scope", nullable(SCOPE), "Only this scope", None),
            Arg("limit", INTEGER, "How many notes at most (1 to 100)", 5, minimum=1),
        ], MEMORIES_OUT, memory_recall, read_only=True, nested=[MEMORY_OUT]),
        Tool("memory_forget", FORGET_DOC, "Forget a note", [
            Arg("key", STRING, "The note's key"),
            Arg("scope", nullable(SCOPE), "The scope it is in", None),
        ], MEMORIES_OUT, memory_forget, nested=[MEMORY_OUT]),
    ]
