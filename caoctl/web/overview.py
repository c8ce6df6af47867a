"""What the overview shows: sessions as trees of agents, and the agents needing a person."""

from __future__ import annotations

from collections import Counter
from typing import Any

from caod.protocol import AgentInfo, SessionInfo

NEEDS_PERSON = {"waiting_user_answer": "waiting for an answer", "error": "error"}


def agent_row(a: AgentInfo, inbox: Counter, stalled: dict[str, float]) -> dict[str, Any]:
    return {
        "id": a.id, "name": a.name, "session": a.session, "profile": a.profile, "role": a.role,
        "provider": a.provider, "status": a.status.value, "status_since": a.status_since,
        "parent": a.parent, "reason": a.reason, "cwd": a.cwd, "exit_code": a.exit_code,
        "inbox": inbox.get(a.id, 0), "stalled_since": stalled.get(a.id),
        "children": [],
    }


def _trees(rows: list[dict]) -> list[dict]:
    """Each agent under its parent when the parent is in the same list; the rest are roots."""
    by_id = {r["id"]: r for r in rows}
    roots = []
    for r in rows:
        parent = by_id.get(r["parent"]) if r["parent"] else None
        (parent["children"] if parent is not None else roots).append(r)
    return roots


def build(sessions: list[SessionInfo], agents: list[AgentInfo], inbox: Counter,
          stalled: dict[str, float]) -> dict[str, Any]:
    """The overview as JSON: sessions (each a tree), agents of no session, and who needs a person."""
    out_sessions = []
    for s in sessions:
        rows = [agent_row(a, inbox, stalled) for a in s.agents]
        out_sessions.append({"name": s.name, "cwd": s.cwd, "created_at": s.created_at, "active": s.active,
                             "supervisor": s.supervisor, "agents": _trees(rows)})
    in_sessions = {a.id for s in sessions for a in s.agents}
    loose = _trees([agent_row(a, inbox, stalled) for a in agents if a.id not in in_sessions])
    attention = []
    for a in agents:
        why = NEEDS_PERSON.get(a.status.value)
        if why is None and a.id in stalled and a.status.live:
            why = "stalled"
        if why is not None:
            attention.append({"id": a.id, "name": a.name, "session": a.session, "status": a.status.value,
                              "why": why, "reason": a.reason, "since": a.status_since})
    return {"sessions": out_sessions, "agents": loose, "attention": attention}
