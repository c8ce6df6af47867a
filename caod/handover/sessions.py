"""A session's handover files: each handoff (the task and the worker's answer), each assign
(the task as the worker receives it) and each send_message (the message as the receiver
sees it), numbered in the order they happened, in <session folder>/.caod/handover/<session>/.

Writing never holds up the call it records: the file is written in a thread, and a
failure is logged (the conversation itself is in SQLite either way).
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

from caod.handover import Handover, allowed, file_name, folder_for, next_number, when, write_file
from caod.logs import log

if TYPE_CHECKING:
    from caod.agent import Agent
    from caod.sessions import Session
    from caod.store import Store


def _who(agent: "Agent") -> str:
    what = agent.profile or agent.role
    return f"agent {agent.id}" + (f" ({what})" if what else "")


def _model(agent: "Agent") -> str:
    try:
        return json.loads(agent.spec or "{}").get("model") or "the CLI's default"
    except ValueError:
        return "the CLI's default"


class SessionHandovers:
    def __init__(self, store: "Store"):
        self._store = store
        self._next: dict[Path, int] = {}
        self._writing: set[asyncio.Task] = set()

    def record(self, session: "Session", kind: str, sender: "Agent", receiver: "Agent", text: str,
               answer: str | None = None, note: str | None = None, sent_at: float | None = None) -> Path | None:
        """Journal one exchange (for session export) and queue its file; returns the file's path
        (None when the session writes none)."""
        self._store.write("INSERT INTO session_turns (session, kind, sender, receiver, text, answer, note, at) "
                          "VALUES (?,?,?,?,?,?,?,?)", (session.name, kind, sender.id, receiver.id, text, answer, note,
                                                       sent_at or time.time()))
        if not (session.handover and allowed(session.cwd)):
            return None
        folder = folder_for(session.cwd, session.name)
        number = self._next.get(folder) or next_number(folder)  # numbers go on after a daemon restart
        self._next[folder] = number + 1
        now = time.time()
        rows = [
            ("session", session.name),
            ("turn", f"{number}: {kind}"),
            ("from", _who(sender)),
            ("to", _who(receiver)),
            ("CLI", receiver.provider.name),
            ("model", _model(receiver)),
            ("sent", when(sent_at or now)),
        ]
        if answer is not None or note is not None:
            rows.append(("answered" if answer is not None else "ended", when(now)))
        h = Handover(f"{session.name} · turn {number}: {kind} from {sender.id} to {receiver.id}", rows, receiver.id,
                     text, answer, note)
        name = file_name(number, receiver.profile or receiver.role or receiver.id)
        task = asyncio.get_running_loop().create_task(self._write(folder, name, h))
        self._writing.add(task)
        task.add_done_callback(self._writing.discard)
        return folder / name

    async def _write(self, folder: Path, name: str, h: Handover) -> None:
        try:
            await asyncio.to_thread(write_file, folder, name, h)
        except OSError as e:
            log.warning("could not write a handover file", folder=str(folder), file=name, error=str(e))
