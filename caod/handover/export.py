"""A whole session's conversation as one Markdown document (caoctl session export --markdown):
its agents, then in time order what people typed to them, each handoff (task and answer),
assign and message between agents (session_turns, journaled by caod.handover.sessions
whether or not files are written), each worker turn's result, and each agent's latest answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from caod.handover import _fenced, when
from caod.inbox import CAOD, USER

if TYPE_CHECKING:
    from caod.sessions import Session
    from caod.store import Store


async def markdown(store: "Store", session: "Session") -> str:
    await store.flush()  # the latest records are read too
    agents = await store.fetchall(
        "SELECT id, provider, profile, role, parent, created_at, status, last_answer FROM agents WHERE session=? "
        "ORDER BY created_at", (session.name,))
    ids = {a[0] for a in agents}
    label = {a[0]: f"{a[0]} ({a[2] or a[3] or a[1]})" for a in agents}
    items: list[tuple[float, int, str]] = []  # (when, order among equals, the section)
    for aid, provider, profile, role, parent, created, _status, _last in agents:
        by = f", started by {label.get(parent, parent)}" if parent else ""
        items.append((created, 0, f"### {when(created)} · agent {label[aid]} started ({provider}{by})\n"))
    marks = ",".join("?" * len(ids)) or "''"
    for sender, receiver, body, created in await store.fetchall(
            f"SELECT sender, receiver, body, created_at FROM messages WHERE receiver IN ({marks}) AND sender IN (?,?) "
            "ORDER BY id", (*ids, USER, CAOD)):
        who = "you" if sender == USER else "caod"
        items.append((created, 1, f"### {when(created)} · {who} → {label.get(receiver, receiver)}\n\n{_fenced(body)}"))
    handed = set()
    for kind, sender, receiver, text, answer, note, at in await store.fetchall(
            "SELECT kind, sender, receiver, text, answer, note, at FROM session_turns WHERE session=? ORDER BY id",
            (session.name,)):
        if kind == "handoff":
            handed.add(receiver)
        section = (f"### {when(at)} · {kind}: {label.get(sender, sender)} → {label.get(receiver, receiver)}\n\n"
                   f"{_fenced(text)}")
        if answer is not None:
            section += f"\nAnswer:\n\n{_fenced(answer)}"
        elif note:
            section += f"\n{note}\n"
        items.append((at, 2, section))
    for agent, ended, output, ended_at in await store.fetchall(
            f"SELECT agent, ended, output, ended_at FROM results WHERE agent IN ({marks}) ORDER BY id", tuple(ids)):
        if agent in handed:  # its answer is in the handoff's section already
            continue
        items.append((ended_at, 3, f"### {when(ended_at)} · {label.get(agent, agent)} ended a turn ({ended})\n\n"
                                   f"{_fenced(output or '')}"))
    head = (f"# Session {session.name}\n\n| | |\n| --- | --- |\n| folder | {session.cwd} |\n"
            f"| started | {when(session.created_at)} |\n| supervisor | {label.get(session.supervisor, '-')} |\n"
            f"| state | {'active' if session.active else 'ended'} |\n\n## Conversation\n\n")
    body = "\n".join(section for _at, _order, section in sorted(items, key=lambda i: (i[0], i[1])))
    latest = "".join(f"\n### {label[a[0]]} ({a[6]})\n\n{_fenced(a[7])}" for a in agents if a[7])
    return head + body + ("\n## Latest answers\n" + latest if latest else "")
