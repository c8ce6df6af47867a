"""Exited agents as SQLite keeps them, so they stay queryable once they leave memory.

An agent's row gets its last answer and screen at each completed turn (so a daemon
killed with -9 still leaves the last turn's), and its answer, screen, scrollback and
reason when it exits. The daemon then drops the agent from memory; status, output
and listings of it read the row back as an ExitedAgent. A row with no screen (written
by an older caod, or by a daemon killed before the agent's first turn) gets one by
replaying the tail of its transcript through an AgentScreen, once.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from caod.protocol import AgentInfo
from caod.screen import AgentScreen
from caod.status import Status
from caod.store import Store

if TYPE_CHECKING:
    from caod.agent import Agent

# A transcript is replayed from this many bytes before its end: enough for a TUI's
# last full redraw, bounded in time (the screen parser takes ~1 s per MB).
REPLAY_BYTES = 1 << 20

INFO_COLUMNS = ("id, name, provider, cwd, command, pid, status, status_since, created_at, rows, cols, exit_code,"
                " exit_signal, session, profile, role, parent, reason")
ALL_COLUMNS = INFO_COLUMNS + ", last_answer, screen, history, transcript"


def insert(store: Store, agent: "Agent") -> asyncio.Future:
    """The row of an agent that has just started."""
    return store.write(
        "INSERT OR REPLACE INTO agents (id, name, provider, cwd, command, pid, status, status_since,"
        " created_at, rows, cols, transcript, session, profile, role, parent, spec)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            agent.id, agent.name, agent.provider.name, agent.cwd, json.dumps(agent.command), agent.pid,
            agent.status.value, agent.status_since, agent.created_at, agent.rows, agent.cols,
            str(agent.transcript_path), agent.session, agent.profile, agent.role, agent.parent, agent.spec,
        ),
    )


def save_turn(store: Store, agent: "Agent") -> None:
    """A turn completed: its answer (kept if none is found now) and the screen."""
    store.write("UPDATE agents SET last_answer=COALESCE(?, last_answer), screen=? WHERE id=?",
                       (agent.last_answer(), agent.screen.text(), agent.id))


def save_exit(store: Store, agent: "Agent") -> None:
    """The agent exited: everything its queries need, before it leaves memory."""
    store.write(
        "UPDATE agents SET reason=?, last_answer=COALESCE(?, last_answer), screen=?, history=? WHERE id=?",
        (agent.reason, agent.last_answer(), agent.screen.text(), history_text(agent.screen), agent.id),
    )


def history_text(screen: AgentScreen) -> str:
    """Scrollback plus the screen, as `caoctl output --history` prints it."""
    _, lines, _ = screen.history_and_lines()
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


@dataclass
class ExitedAgent:
    """An agent that is not in memory: what its row says."""

    record: AgentInfo
    answer: str | None
    screen: str | None
    history: str | None
    transcript: str | None

    @classmethod
    def from_row(cls, row: Any) -> "ExitedAgent":
        return cls(_info(row[:18]), *row[18:22])

    def info(self) -> AgentInfo:
        return self.record

    def last_answer(self) -> str | None:
        return self.answer

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def name(self) -> str | None:
        return self.record.name

    @property
    def status(self) -> Status:
        return self.record.status

    @property
    def session(self) -> str | None:
        return self.record.session

    @property
    def exit_code(self) -> int | None:
        return self.record.exit_code

    @property
    def exit_signal(self) -> int | None:
        return self.record.exit_signal


def _info(r: Any) -> AgentInfo:
    command = r[4] or ""
    try:  # a JSON list since schema 3; a space-joined string before
        argv = json.loads(command) if command.startswith("[") else command.split()
    except ValueError:
        argv = command.split()
    return AgentInfo(
        id=r[0], name=r[1], provider=r[2], cwd=r[3], command=argv, pid=r[5], status=Status(r[6]),
        status_since=r[7], created_at=r[8], rows=r[9], cols=r[10], exit_code=r[11], exit_signal=r[12],
        session=r[13], profile=r[14], role=r[15], parent=r[16], reason=r[17],
    )


async def by_ref(store: Store, ref: str) -> ExitedAgent | None:
    """The row with id `ref`, else the newest row named `ref`."""
    row = await store.fetchone(f"SELECT {ALL_COLUMNS} FROM agents WHERE id = ?", (ref,))
    if row is None:
        row = await store.fetchone(
            f"SELECT {ALL_COLUMNS} FROM agents WHERE name = ? ORDER BY created_at DESC LIMIT 1", (ref,))
    return ExitedAgent.from_row(row) if row is not None else None


async def ids_with_prefix(store: Store, prefix: str) -> list[str]:
    rows = await store.fetchall("SELECT id FROM agents WHERE substr(id, 1, ?) = ? LIMIT 2", (len(prefix), prefix))
    return [r[0] for r in rows]


async def infos(store: Store, session: str | None = None) -> list[AgentInfo]:
    """Every exited agent's row (of one session)."""
    sql = f"SELECT {INFO_COLUMNS} FROM agents WHERE status = ?"
    params: list[Any] = [Status.EXITED.value]
    if session is not None:
        sql += " AND session = ?"
        params.append(session)
    return [_info(r) for r in await store.fetchall(sql + " ORDER BY created_at", params)]


async def count(store: Store) -> int:
    row = await store.fetchone("SELECT COUNT(*) FROM agents WHERE status = ?", (Status.EXITED.value,))
    return int(row[0])


def exit_data(agent: "Agent | ExitedAgent") -> dict:
    """The data of an `agent exited` error: how it ended and its last screen."""
    screen = agent.screen if isinstance(agent, ExitedAgent) else agent.screen.text()
    return {"exit_code": agent.exit_code, "exit_signal": agent.exit_signal, "screen": screen or ""}


async def with_screen(store: Store, agent: ExitedAgent) -> ExitedAgent:
    """`agent`, with its screen and scrollback rebuilt from its transcript if its row has none."""
    if agent.screen is not None or not agent.transcript:
        return agent
    info = agent.info()
    replayed = await asyncio.to_thread(replay, Path(agent.transcript), info.rows, info.cols)
    if replayed is None:
        return agent
    agent.screen, agent.history = replayed
    store.write("UPDATE agents SET screen=?, history=? WHERE id=? AND screen IS NULL",
                (agent.screen, agent.history, agent.id))
    return agent


def replay(transcript: Path, rows: int, cols: int) -> tuple[str, str] | None:
    """(screen, scrollback) after the last REPLAY_BYTES of the transcript (and its rotated
    part), or None if neither file is there. Runs in a worker thread."""
    chunks: list[bytes] = []
    want = REPLAY_BYTES
    for path in (transcript, transcript.with_name(transcript.name + ".1")):
        try:
            with open(path, "rb") as fh:
                size = fh.seek(0, 2)
                fh.seek(max(0, size - want))
                data = fh.read(want)
        except FileNotFoundError:
            continue
        chunks.insert(0, data)
        want -= len(data)
        if want <= 0:
            break
    if not chunks:
        return None
    screen = AgentScreen(cols, rows)
    screen.feed(b"".join(chunks), lambda: None)
    return screen.text(), history_text(screen)
