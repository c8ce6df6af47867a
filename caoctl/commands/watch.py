"""caoctl watch: a live table of the agents, redrawn when something happens.

It subscribes to the daemon's events and re-reads the agents (and the pending
inbox messages) only when an event arrives, so it never polls the daemon.
Between events it redraws once a second by itself, for the "how long" column.
`--once` prints one plain table (or with --json a list of rows) and exits.
"""

from __future__ import annotations

import os
import time
from collections import Counter

import click
from rich import box
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from caoctl.client import Client
from caoctl.common import CommandFailed, connect, json_option
from caoctl.complete import session_names
from caoctl.output import ago, emit_json, table, visible
from caod.protocol import AgentInfo, Event, EventsParams, InboxListParams, ListParams, SessionRef, SubscribeParams
from caod.status import EventKind

REPLAY = 1000  # recent events asked for at start, for the "last event" column
INBOX_LIMIT = 10_000
TICK = 1.0  # seconds between redraws when nothing happens
STYLE = {
    "starting": "cyan",
    "idle": "cyan",
    "processing": "yellow",
    "completed": "green",
    "waiting_user_answer": "bold magenta",
    "error": "bold red",
    "exited": "dim",
}
HEADERS = ["ID", "NAME", "SESSION", "PROFILE", "PROVIDER", "STATUS", "LAST EVENT", "INBOX"]


def event_text(e: Event) -> str:
    if e.kind is EventKind.STATUS:
        return f"{e.old.value if e.old else '-'} -> {e.new.value if e.new else '-'}"
    if e.kind is EventKind.MESSAGE and e.detail.get("notice"):  # caod's own, about a worker (caod.notices)
        return f"notice {e.detail['notice']} about {e.detail.get('worker')}"
    if e.kind is EventKind.MESSAGE:
        return f"message {e.detail.get('state', '')}".rstrip()
    return e.kind.value


class Board:
    """What the table shows: the agents, each one's last event, pending inbox counts."""

    def __init__(self, session: str | None):
        self.session = session
        self.agents: list[AgentInfo] = []
        self.last: dict[str, Event] = {}
        self.inbox: Counter[str] = Counter()

    def refresh(self, c: Client) -> None:
        agents = c.call("agent.list", ListParams()).agents
        if self.session is not None:
            agents = [a for a in agents if a.session == self.session]
        self.agents = agents
        pending = c.call("inbox.list", InboxListParams(pending_only=True, limit=INBOX_LIMIT)).messages
        self.inbox = Counter(m.receiver for m in pending)

    def note(self, e: Event) -> None:
        self.last[e.agent] = e

    def rows(self, now: float | None = None) -> list[dict]:
        now = time.time() if now is None else now
        out = []
        for a in self.agents:
            e = self.last.get(a.id)
            out.append({
                "id": a.id,
                "name": a.name,
                "session": a.session,
                "profile": a.profile,
                "role": a.role,
                "provider": a.provider,
                "status": a.status.value,
                "status_since": a.status_since,
                "status_for_s": round(max(0.0, now - a.status_since), 1),
                "exit_code": a.exit_code,
                "exit_signal": a.exit_signal,
                "last_event": event_text(e) if e else None,
                "last_event_at": e.ts if e else None,
                "inbox": self.inbox.get(a.id, 0),
            })
        return out


def _cells(row: dict) -> list[str]:
    status = row["status"]
    if row["exit_signal"] is not None:
        status += f" (signal {row['exit_signal']})"
    elif row["exit_code"] is not None:
        status += f" ({row['exit_code']})"
    last = f"{row['last_event']} {ago(row['last_event_at'])} ago" if row["last_event"] else "-"
    return [
        row["id"], row["name"] or "-", row["session"] or "-", row["profile"] or "-", row["provider"],
        f"{status} {ago(row['status_since'])}", last, str(row["inbox"]),
    ]


def plain_table(board: Board) -> str:
    rows = board.rows()
    if not rows:
        return "no agents" + (f" in session {board.session}" if board.session else "")
    return table(HEADERS, (_cells(r) for r in rows))


def rich_table(board: Board) -> Table:
    rows = board.rows()
    live = sum(r["status"] != "exited" for r in rows)
    where = f" · session {board.session}" if board.session else ""
    t = Table(
        title=f"caod agents: {len(rows)} ({live} live){where} · {time.strftime('%H:%M:%S')}",
        caption="redrawn on every event · Ctrl-C to quit",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    # Columns nobody fills are left out, to leave room on narrow terminals.
    keep = [i for i, h in enumerate(HEADERS)
            if not (h == "SESSION" and (board.session or not any(r["session"] for r in rows)))
            and not (h == "PROFILE" and not any(r["profile"] for r in rows))]
    for i in keep:
        h = HEADERS[i]
        t.add_column(h, justify="right" if h == "INBOX" else "left", no_wrap=h != "LAST EVENT")
    for r in rows:
        cells = [Text(visible(x)) for x in _cells(r)]  # a name's escape codes must not paint the table
        cells[5].stylize(STYLE.get(r["status"], ""))
        if r["inbox"]:
            cells[7].stylize("bold")
        t.add_row(*(cells[i] for i in keep), style="dim" if r["status"] == "exited" else None)
    if not rows:
        t.add_row(*(["no agents"] + [""] * (len(keep) - 1)))
    return t


@click.command("watch")
@click.option("--session", "-s", metavar="NAME", shell_complete=session_names, help="Only this session's agents.")
@click.option("--once", is_flag=True, help="Print the table once and exit (works without a terminal).")
@json_option
@click.pass_context
def command(ctx, session, once, as_json):
    """A live table of the agents: status and for how long, last event, inbox depth (Ctrl-C quits)."""
    if as_json and not once:
        raise CommandFailed("--json goes with --once")
    board = Board(session)
    with connect(ctx) as c:
        if session is not None:
            c.call("session.get", SessionRef(session=session))  # a typo is an error, not an empty table
        if once:
            for e in c.call("events.list", EventsParams(limit=REPLAY)).events:
                board.note(e)
            board.refresh(c)
            if as_json:
                emit_json(board.rows())
            else:
                click.echo(plain_table(board))
            return
        if not (os.isatty(1) and os.isatty(0)):
            raise CommandFailed("watch needs a terminal; use --once for a single table")
        try:
            _live(c, board)
        except KeyboardInterrupt:  # Ctrl-C is the way out: the terminal is restored by now
            return


def _live(c: Client, board: Board) -> None:
    sub = c.call("events.subscribe", SubscribeParams(replay=REPLAY))
    board.refresh(c)  # after subscribing, so no change falls in between
    console = Console()
    with Live(rich_table(board), console=console, screen=True, auto_refresh=False, redirect_stdout=False,
              redirect_stderr=False) as live:
        next_tick = time.monotonic() + TICK
        while True:
            changed = False
            e = _next_event(c, max(0.0, next_tick - time.monotonic()))
            while e is not None:  # take what has arrived at once, then redraw once
                board.note(e)
                changed |= e.seq > sub.seq  # the replayed ones are older than the refresh
                e = _next_event(c, 0.0)
            if changed:
                board.refresh(c)
            if changed or time.monotonic() >= next_tick:
                live.update(rich_table(board), refresh=True)
                next_tick = time.monotonic() + TICK


def _next_event(c: Client, timeout: float) -> Event | None:
    """The next pushed event, or None when none comes within `timeout` seconds."""
    c.sock.settimeout(max(timeout, 0.001))
    try:
        return next(c.events())
    except (TimeoutError, BlockingIOError):
        return None
    finally:
        c.sock.settimeout(None)
