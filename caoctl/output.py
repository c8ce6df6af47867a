"""Printing: tables for people, stable JSON objects for scripts."""

from __future__ import annotations

import json
import time
from typing import Any, Iterable

import click
import msgspec

from caoctl.text import display_width, visible  # noqa: F401 (re-exported: commands import them from here)
from caod.protocol import AgentInfo, Event


def to_plain(value: Any) -> Any:
    return msgspec.to_builtins(value)


def emit_json(value: Any) -> None:
    click.echo(json.dumps(to_plain(value), ensure_ascii=False, indent=2))


def ago(ts: float) -> str:
    secs = max(0.0, time.time() - ts)
    if secs < 60:
        return f"{secs:.0f}s"
    if secs < 3600:
        return f"{secs // 60:.0f}m{secs % 60:02.0f}s"
    return f"{secs // 3600:.0f}h{secs % 3600 // 60:02.0f}m"


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - display_width(text))


def counted(n: int, noun: str) -> str:
    """`1 agent`, `2 agents`."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def table(headers: list[str], rows: Iterable[list[str]]) -> str:
    rows = [[visible(c) for c in r] for r in rows]
    widths = [max([display_width(h)] + [display_width(r[i]) for r in rows]) for i, h in enumerate(headers)]
    lines = ["  ".join(_pad(h, w) for h, w in zip(headers, widths)).rstrip()]
    lines += ["  ".join(_pad(c, w) for c, w in zip(r, widths)).rstrip() for r in rows]
    return "\n".join(lines)


def agent_status_text(a: AgentInfo) -> str:
    if a.exit_signal is not None:
        return f"{a.status.value} (signal {a.exit_signal})"
    if a.exit_code is not None:
        return f"{a.status.value} ({a.exit_code})"
    return a.status.value


def agents_table(agents: list[AgentInfo]) -> str:
    return table(
        ["ID", "NAME", "PROVIDER", "STATUS", "SINCE", "PID", "CWD"],
        (
            [a.id, a.name or "-", a.provider, agent_status_text(a), ago(a.status_since), a.pid or "-", a.cwd]
            for a in agents
        ),
    )


def agent_details(a: AgentInfo) -> str:
    fields = [
        ("id", a.id),
        ("name", a.name or "-"),
        ("provider", a.provider),
        ("status", f"{agent_status_text(a)} for {ago(a.status_since)}"),
        ("pid", a.pid or "-"),
        ("cwd", a.cwd),
        ("command", " ".join(a.command)),
        ("size", f"{a.cols}x{a.rows}"),
        ("started", time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(a.created_at))),
    ]
    text = "\n".join(f"{k + ':':<10}{visible(v)}" for k, v in fields)
    if a.reason:  # what it asks, or why it failed, as drawn
        text += "\nreason:\n" + "\n".join(f"  {visible(line)}" if line else "" for line in a.reason.splitlines())
    return text


def event_line(e: Event) -> str:
    stamp = time.strftime("%H:%M:%S", time.localtime(e.ts)) + f".{int(e.ts * 1000) % 1000:03d}"
    if e.kind.value == "status":
        what = f"{e.old.value if e.old else '-'} -> {e.new.value if e.new else '-'}"
    else:
        what = e.kind.value
    extra = " ".join(f"{k}={visible(v)}" for k, v in e.detail.items() if v is not None)
    by = f" [{e.signal.value}]" if e.signal else ""
    return f"{stamp}  #{e.seq:<5} {e.agent}  {what}{by}{('  ' + extra) if extra else ''}"
