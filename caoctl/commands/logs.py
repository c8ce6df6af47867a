"""caoctl logs: the daemon's log as readable lines, or an agent's transcript as text.

The daemon log (`<home>/caod.log`) is JSON lines; each becomes
`time level event key=value ...`. An agent's transcript is its raw output;
it is replayed through the same terminal emulator the daemon uses
(caod.screen.AgentScreen), so what prints is the text a person saw, never
escape codes.

Following the daemon log is a plain tail -f loop on the file (this is the
client, not the daemon). Following an agent prints the last lines drawn so
far (from the transcript), then reads its live output through `agent.attach`
(as a viewer that never types and never resizes it) and prints each line as
it settles on the agent's screen (caoctl.follow: a finished line a quarter of
a second after it is drawn; a spinner or a timer never on each tick).
"""

from __future__ import annotations

import json
import os
import select
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import click

from caod import paths
from caod.protocol import AgentRef, AttachParams, ErrorCode
from caod.screen import AgentScreen
from caoctl.client import Client, DaemonUnavailable, RpcFailure
from caoctl.common import CommandFailed, json_option, settings
from caoctl.complete import agent_ids
from caoctl.follow import SettledLines

FOLLOW_SLEEP = 0.2  # seconds between looks at a quiet log file
CHUNK = 1 << 20
DEFAULT_SIZE = (40, 120)  # rows, cols: the daemon's default agent size
FOLLOW_HISTORY = 2000  # lines kept while following: more than can scroll off between two looks
LOOK_EVERY = 0.1  # seconds: while output pours in without a pause, still look this often


@click.command("logs")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines as they come (Ctrl-C to stop).")
@click.option("--agent", "-a", metavar="AGENT", shell_complete=agent_ids,
              help="Show this agent's transcript as text instead of the daemon log.")
@click.option("--lines", "-n", type=click.IntRange(min=0), default=100, show_default=True,
              help="How many of the last lines to show first (0: all).")
@json_option
@click.pass_context
def command(ctx, follow, agent, lines, as_json):
    """Print the daemon log, or with --agent an agent's transcript rendered as text."""
    sock = settings(ctx).socket
    home = _home(sock)
    try:
        if agent is None:
            _daemon_log(home / "caod.log", lines, follow, as_json)
        elif follow:
            _follow_agent(sock, home, agent, lines, as_json)
        else:
            _agent_transcript(sock, home, agent, lines, as_json)
    except KeyboardInterrupt:  # Ctrl-C is how one stops following: not an error
        return


def _home(sock: Path) -> Path:
    """The running daemon's home; the configured one when no daemon answers."""
    try:
        with Client(sock, connect_timeout=2) as c:
            return Path(c.call("daemon.status", timeout=5).home)
    except (DaemonUnavailable, OSError):
        return paths.home_dir()


# ---------------------------------------------------------------- the daemon log


def format_log_line(raw: str) -> str:
    """One JSON log record as `time level event key=value ...` (other lines as they are)."""
    raw = raw.rstrip("\n")
    try:
        rec = json.loads(raw)
    except ValueError:
        return raw
    if not isinstance(rec, dict):
        return raw
    rec = dict(rec)
    stamp = _local_time(rec.pop("timestamp", None))
    level = str(rec.pop("level", "-"))
    event = str(rec.pop("event", ""))
    exc = rec.pop("exception", None)
    extras = " ".join(f"{k}={_value(v)}" for k, v in rec.items())
    line = f"{stamp}  {level:<7} {event}" + (f"  {extras}" if extras else "")
    if exc:
        line += "\n" + str(exc).rstrip()
    return line


def _local_time(stamp) -> str:
    if not isinstance(stamp, str):
        return "-" * 23
    try:
        dt = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    if dt.tzinfo is not None:
        dt = dt.astimezone()
    return dt.strftime("%Y-%m-%d %H:%M:%S.") + f"{dt.microsecond // 1000:03d}"


def _value(v) -> str:
    if isinstance(v, str):
        return v if v and not any(c.isspace() or c in "\"'=" for c in v) else json.dumps(v, ensure_ascii=False)
    return json.dumps(v, ensure_ascii=False)


def tail_lines(path: Path, n: int) -> tuple[list[str], int]:
    """The last `n` complete lines of `path` (all when n == 0), and the offset just after them."""
    with open(path, "rb") as fh:
        end = fh.seek(0, os.SEEK_END)
        data = b""
        pos = end
        # Read backwards only as far as needed: logs can be large.
        while pos > 0 and (n == 0 or data.count(b"\n") <= n):
            step = min(CHUNK, pos)
            pos -= step
            fh.seek(pos)
            data = fh.read(step) + data
    complete, _, _partial = data.rpartition(b"\n")
    offset = pos + len(complete) + (1 if complete or data.startswith(b"\n") else 0)
    rows = complete.split(b"\n") if complete else []
    if pos > 0 and rows:  # the first row may be cut off at the block edge
        rows = rows[1:]
    if n:
        rows = rows[-n:]
    return [r.decode("utf-8", "replace") for r in rows], offset


def _daemon_log(path: Path, n: int, follow: bool, as_json: bool) -> None:
    if not path.exists() and not follow:
        raise CommandFailed(f"no daemon log at {path} (has a daemon run with this home?)")
    show = (lambda line: click.echo(line.rstrip("\n"))) if as_json else (lambda line: click.echo(format_log_line(line)))
    offset = 0
    if path.exists():
        rows, offset = tail_lines(path, n)
        for row in rows:
            if row.strip():
                show(row)
    if follow:
        for row in _follow_file(path, offset):
            if row.strip():
                show(row)


def _follow_file(path: Path, offset: int):
    """Complete lines appended to `path` from `offset` on; starts over if the file is replaced or truncated."""
    fh = None
    partial = b""
    try:
        while True:
            if fh is None:
                try:
                    fh = open(path, "rb")
                except FileNotFoundError:
                    time.sleep(FOLLOW_SLEEP)
                    continue
                if offset > os.fstat(fh.fileno()).st_size:
                    offset = 0
                fh.seek(offset)
            chunk = fh.read(CHUNK)
            if chunk:
                partial += chunk
                *done, partial = partial.split(b"\n")
                for row in done:
                    yield row.decode("utf-8", "replace")
                continue
            time.sleep(FOLLOW_SLEEP)
            try:
                st = os.stat(path)
            except FileNotFoundError:
                continue
            mine = os.fstat(fh.fileno())
            if st.st_ino != mine.st_ino or st.st_size < fh.tell():  # replaced or truncated
                fh.close()
                fh, offset, partial = None, 0, b""
    finally:
        if fh is not None:
            fh.close()


# ---------------------------------------------------------------- agent transcripts


@dataclass
class _Agent:
    id: str
    rows: int
    cols: int
    transcript: Path


def _find_agent(sock: Path, home: Path, ref: str) -> _Agent:
    """Ask the daemon; when it is down or forgot the agent, look in its database and transcripts."""
    transcripts = home / "transcripts"
    try:
        with Client(sock, connect_timeout=2) as c:
            info = c.call("agent.get", AgentRef(agent=ref), timeout=10)
        return _Agent(info.id, info.rows, info.cols, transcripts / f"{info.id}.log")
    except DaemonUnavailable:
        pass
    except RpcFailure as e:
        if e.code != ErrorCode.NO_SUCH_AGENT:
            raise
    row = _db_lookup(home / "caod.db", ref)
    if row is not None:
        agent_id, rows, cols, transcript = row
        return _Agent(agent_id, rows, cols, Path(transcript) if transcript else transcripts / f"{agent_id}.log")
    if (transcripts / f"{ref}.log").exists():
        return _Agent(ref, *DEFAULT_SIZE, transcripts / f"{ref}.log")
    raise CommandFailed(f"no such agent: {ref}")


def _db_lookup(db: Path, ref: str):
    if not db.exists():
        return None
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=2)
    except sqlite3.Error:
        return None
    try:
        rows = con.execute(
            "SELECT id, rows, cols, transcript FROM agents WHERE id = ? OR name = ? ORDER BY created_at DESC LIMIT 1",
            (ref, ref)).fetchall()
        if not rows and len(ref) >= 4:
            rows = con.execute(
                "SELECT id, rows, cols, transcript FROM agents WHERE id LIKE ? || '%' LIMIT 2", (ref,)).fetchall()
            if len(rows) > 1:
                raise CommandFailed(f"agent prefix {ref!r} is ambiguous")
        return rows[0] if rows else None
    except sqlite3.Error:
        return None
    finally:
        con.close()


def _render(agent: _Agent, history: int) -> AgentScreen:
    screen = AgentScreen(agent.cols, agent.rows, history=history)
    rotated = agent.transcript.with_name(agent.transcript.name + ".1")
    found = False
    for path in (rotated, agent.transcript):
        try:
            fh = open(path, "rb")
        except FileNotFoundError:
            continue
        found = True
        with fh:
            while chunk := fh.read(CHUNK):
                screen.feed(chunk, _no_frame)
    if not found:
        raise CommandFailed(f"agent {agent.id} has no transcript at {agent.transcript}")
    return screen


def _no_frame() -> None:
    pass


def _history_size(n: int) -> int:
    return n if n else 1_000_000


def _drawn(screen: AgentScreen) -> list[str]:
    """Scrollback and screen rows, without the blank rows below the last text."""
    _first, rows, _continued = screen.history_and_lines()
    while rows and not rows[-1].strip():
        rows.pop()
    return rows


def _agent_transcript(sock: Path, home: Path, ref: str, n: int, as_json: bool) -> None:
    agent = _find_agent(sock, home, ref)
    rows = _drawn(_render(agent, _history_size(n)))
    if n:
        rows = rows[-n:]
    if as_json:
        click.echo(json.dumps({"agent": agent.id, "lines": rows}, ensure_ascii=False, indent=2))
    else:
        for row in rows:
            click.echo(row)


def _follow_agent(sock: Path, home: Path, ref: str, n: int, as_json: bool) -> None:
    agent = _find_agent(sock, home, ref)
    show = (lambda row: click.echo(json.dumps({"agent": agent.id, "line": row}, ensure_ascii=False))) if as_json \
        else click.echo
    c = Client(sock)
    try:
        # No rows/cols: a viewer that follows must not resize the agent.
        info = c.call("agent.attach", AttachParams(agent=agent.id, redraw=True))
        agent = _Agent(info.id, info.rows, info.cols, agent.transcript)
        # The last n lines drawn before now come from the transcript; the live screen
        # starts from the redraw the daemon sends after the reply, and the rows it
        # shares with the transcript's last screen count as printed.
        try:
            before = _render(agent, _history_size(n))
            rows, last_screen = _drawn(before), before.lines()
        except CommandFailed:
            rows, last_screen = [], []
        for row in rows[-n:] if n else rows:
            show(row)
        _follow_live(c, AgentScreen(agent.cols, agent.rows, history=FOLLOW_HISTORY), last_screen, show)
        click.echo(_why_closed(sock, agent.id), err=True)
    except RpcFailure as e:
        if e.code != ErrorCode.AGENT_EXITED:
            raise
        # Nothing more will come: show what there is, like tail -f on a finished file.
        _agent_transcript(sock, home, agent.id, n, as_json)
        click.echo(f"[agent {agent.id} has exited]", err=True)
    finally:
        c.close()


def _follow_live(c: Client, screen: AgentScreen, last_screen: list[str], show) -> None:
    """Print lines as they settle until the daemon closes the stream (the agent is gone).

    The screen is looked at when the output pauses (nothing more to read and no
    synchronized frame half drawn), when a row is due to settle, and at least
    every LOOK_EVERY seconds while output pours in.
    """
    settled = SettledLines(screen, last_screen)
    pending, timed_out, looked = c.leftover(), False, 0.0
    while True:
        if pending:
            screen.feed(pending, _no_frame)
        now = time.monotonic()
        paused = not screen.in_sync and not select.select([c.sock], [], [], 0)[0]
        if timed_out or paused or now - looked >= LOOK_EVERY:
            for line in settled.update(now):
                show(line)
            looked = now
        due = settled.next_due()
        wait = None if due is None else max(0.0, due - time.monotonic())
        if not select.select([c.sock], [], [], wait)[0]:
            pending, timed_out = b"", True
            continue
        pending, timed_out = c.sock.recv(65536), False
        if not pending:
            break
    # The agent is gone: what stayed on its screen is the end of the story.
    for line in settled.update(time.monotonic(), final=True):
        show(line)


def _why_closed(sock: Path, agent_id: str) -> str:
    try:
        with Client(sock, connect_timeout=2) as c:
            info = c.call("agent.get", AgentRef(agent=agent_id), timeout=5)
    except (DaemonUnavailable, OSError, RpcFailure):
        return "[the daemon closed the connection]"
    if info.exit_signal is not None:
        return f"[agent {agent_id} exited: signal {info.exit_signal}]"
    if info.exit_code is not None:
        return f"[agent {agent_id} exited: exit code {info.exit_code}]"
    return f"[the daemon closed the connection; agent {agent_id} is {info.status.value}]"
