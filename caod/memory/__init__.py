"""Memory: notes that agents and people keep across sessions, recalled by relevance.

One face for the handlers (memory.*), the MCP tools (memory_store, memory_recall,
memory_forget) and agent start (`briefed`: the memories most relevant to a new agent's
profile and first task, in a delimited block before that task). Rows live in SQLite
(`memories`, indexed by FTS5 for BM25 ranking); a store is committed before its reply.

Who sees what is caod.memory.scopes: an agent (by its token) only its own scopes; a
person (caoctl) names the place (project folder, session, profile) or sees everything.
"""

from __future__ import annotations

import hashlib
import re
import time
from typing import TYPE_CHECKING, Any

from caod.logs import log
from caod.memory import search
from caod.memory.scopes import SCOPES, Place, check_scope, project_root
from caod.protocol import ErrorCode, MemoryInfo
from caod.rpc import RpcError

if TYPE_CHECKING:
    from caod.agent import Agent

__all__ = ["Memory", "Place", "SCOPES"]

MAX_CONTENT = 64 * 1024  # characters of one memory
MAX_KEY = 200
MAX_TAGS, MAX_TAG = 20, 50
MAX_LIMIT = 100
COLUMNS = "id, scope, owner, key, content, tags, source, created_at, updated_at"


def _info(row: Any) -> MemoryInfo:
    return MemoryInfo(id=row[0], scope=row[1], owner=row[2], key=row[3], content=row[4],
                      tags=row[5].split() if row[5] else [], source=row[6], created_at=row[7], updated_at=row[8])


def derived_key(content: str) -> str:
    """A key for a memory stored without one: its first words, and a digest so that
    different notes with the same opening do not replace each other."""
    words = re.findall(r"[A-Za-z0-9]+", content.lower())[:6]
    digest = hashlib.sha256(content.encode()).hexdigest()[:6]
    return "-".join([*words, digest]) if words else digest


class Memory:
    def __init__(self, daemon):
        self._d = daemon

    # ------------------------------------------------------------ who is asking

    def place(self, token: str | None, project: str | None, session: str | None,
              profile: str | None) -> tuple[Place, str]:
        """(the caller's place, its name as a source). An agent's token wins over anything
        named: an agent acts only as itself."""
        if token is not None:
            agent = self._d.agents.authenticate(token)
            return self.place_of(agent), agent.id
        return Place(profile=profile, session=session,
                     project=project_root(project) if project else None), "user"

    def place_of(self, agent: "Agent") -> Place:
        return Place(profile=agent.profile or agent.provider.name, session=agent.session,
                     project=project_root(agent.cwd))

    # ------------------------------------------------------------ calls

    async def store(self, place: Place, source: str, content: str, key: str | None, scope: str,
                    tags: list[str]) -> MemoryInfo:
        check_scope(scope)
        owner = place.owner(scope)
        if owner is None:
            raise RpcError(ErrorCode.INVALID_PARAMS, f"no {scope} to store in here ({_missing(scope)})")
        content = content.strip()
        if not content:
            raise RpcError(ErrorCode.INVALID_PARAMS, "the memory is empty")
        if len(content) > MAX_CONTENT:
            raise RpcError(ErrorCode.INVALID_PARAMS, f"the memory is too long ({len(content)} characters, "
                                                     f"at most {MAX_CONTENT})")
        key = (key or "").strip() or derived_key(content)
        if len(key) > MAX_KEY or any(ch in key for ch in "\n\r\t"):
            raise RpcError(ErrorCode.INVALID_PARAMS, f"a key is one line of at most {MAX_KEY} characters")
        tags = _tags(tags)
        now = time.time()
        await self._d.store.commit(
            f"INSERT INTO memories ({COLUMNS[4:]}) VALUES (?,?,?,?,?,?,?,?)"
            " ON CONFLICT(scope, owner, key) DO UPDATE SET content=excluded.content, tags=excluded.tags,"
            " source=excluded.source, updated_at=excluded.updated_at",
            (scope, owner, key, content, " ".join(tags), source, now, now))
        row = await self._d.store.fetchone(f"SELECT {COLUMNS} FROM memories WHERE scope=? AND owner=? AND key=?",
                                           (scope, owner, key))
        return _info(row)

    async def recall(self, place: Place | None, query: str, scope: str | None, limit: int) -> list[MemoryInfo]:
        """`place` None: every memory (a person asking with --all)."""
        check_scope(scope)
        match = search.fts_query(query)
        if match is None:
            raise RpcError(ErrorCode.INVALID_PARAMS, "the query has no words to search for")
        limit = _limit(limit)
        where, params = self._where(place, scope, table="m")
        rows = await self._d.store.fetchall(
            f"SELECT {', '.join('m.' + c for c in COLUMNS.split(', '))} FROM memories_fts"
            f" JOIN memories m ON m.id = memories_fts.rowid WHERE memories_fts MATCH ? AND ({where})"
            f" ORDER BY {search.scope_order('m.scope')}, bm25(memories_fts), m.updated_at DESC LIMIT ?",
            (match, *params, limit))
        return [_info(r) for r in rows]

    async def list(self, place: Place | None, scope: str | None, limit: int = 1000) -> list[MemoryInfo]:
        check_scope(scope)
        where, params = self._where(place, scope)
        rows = await self._d.store.fetchall(
            f"SELECT {COLUMNS} FROM memories WHERE {where} ORDER BY updated_at DESC, id DESC LIMIT ?",
            (*params, max(1, min(int(limit), 100_000))))
        return [_info(r) for r in rows]

    async def show(self, place: Place | None, key: str, scope: str | None) -> MemoryInfo:
        found = await self._by_key(place, key, scope)
        if not found:
            raise RpcError(ErrorCode.NO_SUCH_MEMORY, f"no memory with key {key!r}{_in(scope)}")
        return found[0]

    async def forget(self, place: Place | None, key: str, scope: str | None) -> list[MemoryInfo]:
        """The memory with `key` in the narrowest scope that has it (or in `scope`)."""
        found = await self._by_key(place, key, scope)
        if not found:
            raise RpcError(ErrorCode.NO_SUCH_MEMORY, f"no memory with key {key!r}{_in(scope)}")
        await self._d.store.commit("DELETE FROM memories WHERE id = ?", (found[0].id,))
        return found[:1]

    async def put_back(self, memories: list[MemoryInfo]) -> int:
        """An export's memories, as they were (same scope, owner and key: replaced)."""
        for m in memories:
            check_scope(m.scope)
            if m.scope == "global" and m.owner:
                raise RpcError(ErrorCode.INVALID_PARAMS, f"a global memory has no owner (key {m.key!r})")
            if not m.content.strip() or len(m.content) > MAX_CONTENT or not m.key or len(m.key) > MAX_KEY:
                raise RpcError(ErrorCode.INVALID_PARAMS, f"memory {m.key!r}: empty or too long")
        now = time.time()
        for m in memories:
            self._d.store.write(
                f"INSERT INTO memories ({COLUMNS[4:]}) VALUES (?,?,?,?,?,?,?,?)"
                " ON CONFLICT(scope, owner, key) DO UPDATE SET content=excluded.content, tags=excluded.tags,"
                " source=excluded.source, created_at=excluded.created_at, updated_at=excluded.updated_at",
                (m.scope, m.owner, m.key, m.content, " ".join(_tags(m.tags)), m.source,
                 m.created_at or now, m.updated_at or now))
        await self._d.store.sync()
        return len(memories)

    # ------------------------------------------------------------ agent start

    async def briefed(self, agent: "Agent", task: str, enabled: bool = True) -> str:
        """`task`, after a block of the memories most relevant to the agent's profile and
        task (none found, or turned off by its profile: the task as it is)."""
        if not enabled:
            return task
        place = self.place_of(agent)
        match = search.fts_query(f"{place.profile or ''} {task}", words=search.BRIEF_WORDS)
        if match is None:
            return task
        where, params = self._where(place, None, table="m")
        try:
            rows = await self._d.store.fetchall(
                f"SELECT m.scope, m.key, m.content FROM memories_fts JOIN memories m ON m.id = memories_fts.rowid"
                f" WHERE memories_fts MATCH ? AND ({where}) ORDER BY bm25(memories_fts) LIMIT 20",
                (match, *params))
        except Exception as e:  # a note is a help, never a reason for a task not to start
            log.warning("no memories for a new agent: the database could not be read", agent=agent.id, error=str(e))
            return task
        block = search.brief_block(rows)
        return f"{block}\n\n{task}" if block else task

    # ------------------------------------------------------------ helpers

    def _where(self, place: Place | None, scope: str | None, table: str = "") -> tuple[str, list[Any]]:
        col = f"{table}." if table else ""
        if place is None:
            return (f"{col}scope = ?", [scope]) if scope else ("1", [])
        pairs = place.visible(scope)
        if not pairs:
            return "0", []
        return " OR ".join(f"({col}scope = ? AND {col}owner = ?)" for _ in pairs), [x for p in pairs for x in p]

    async def _by_key(self, place: Place | None, key: str, scope: str | None) -> list[MemoryInfo]:
        """The memories with `key` the caller sees, narrowest first. A person who named no
        place must not get one of several at random."""
        check_scope(scope)
        where, params = self._where(place, scope)
        rows = await self._d.store.fetchall(
            f"SELECT {COLUMNS} FROM memories WHERE key = ? AND ({where}) ORDER BY {search.scope_order('scope')}",
            (key, *params))
        found = [_info(r) for r in rows]
        if place is None and len(found) > 1:
            where = ", ".join(f"{m.scope} {m.owner!r}" if m.owner else m.scope for m in found)
            raise RpcError(ErrorCode.INVALID_PARAMS, f"key {key!r} is in {len(found)} places ({where}): "
                                                     "name one (scope, project, session or profile)")
        return found


def _tags(tags: list[str]) -> list[str]:
    clean = []
    for tag in tags:
        tag = tag.strip()
        if not tag:
            continue
        if len(tag) > MAX_TAG or not re.fullmatch(r"[\w.:/-]+", tag):
            raise RpcError(ErrorCode.INVALID_PARAMS, f"bad tag {tag[:MAX_TAG]!r}: one word of letters, digits, "
                                                     f"'_.:/-', at most {MAX_TAG} characters")
        if tag not in clean:
            clean.append(tag)
    if len(clean) > MAX_TAGS:
        raise RpcError(ErrorCode.INVALID_PARAMS, f"at most {MAX_TAGS} tags")
    return clean


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise RpcError(ErrorCode.INVALID_PARAMS, f"limit must be 1 to {MAX_LIMIT} (got {limit})")
    return limit


def _missing(scope: str) -> str:
    return {"agent": "no profile given", "session": "not in a session", "project": "no project folder given"}.get(
        scope, "")


def _in(scope: str | None) -> str:
    return f" in scope {scope}" if scope else " in these scopes"
