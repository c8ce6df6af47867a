"""The built-in sinks: webhook, desktop, command. Each delivers one event payload or raises DeliveryFailed.

A payload is the event as JSON (seq, ts, kind, agent, old, new, signal, detail), with the
agent's name, session and profile when known, `reason` for a status (the question while
waiting, the error shown), and `text`: one line for people.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import shutil
import signal
import sys
from dataclasses import dataclass
from typing import Any

from caod.notify import http

SIGNATURE_HEADER = "X-Caod-Signature-256"  # "sha256=" + hex HMAC-SHA256 of the body with the sink's secret
DISCORD_MAX = 2000
STDERR_KEPT = 300
NOTICES = {"waiting": "waits for an answer", "error": "shows an error", "exited": "exited",
           "unreported": "ended its turn without reporting", "stalled": "stalled", "restarted": "was restarted"}


class DeliveryFailed(Exception):
    pass


@dataclass
class Sink:
    id: int
    kind: str  # webhook | desktop | command
    config: dict[str, Any]
    secret: str | None
    events: list[str]
    created_at: float
    failures: int = 0
    last_error: str | None = None
    last_error_at: float | None = None
    last_sent_at: float | None = None

    @property
    def target(self) -> str:
        if self.kind == "webhook":
            return self.config["url"]
        if self.kind == "command":
            return " ".join(self.config["argv"])
        return "desktop"

    @property
    def fingerprint(self) -> str | None:
        return fingerprint(self.secret) if self.secret else None


def fingerprint(secret: str) -> str:
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()[:12]


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# ---------------------------------------------------------------- checks at add


def desktop_program() -> list[str] | None:
    """The argv prefix that shows a desktop notification here, or None."""
    if sys.platform == "darwin" and shutil.which("osascript"):
        return [shutil.which("osascript") or "osascript", "-e", "on run argv", "-e",
                "display notification (item 2 of argv) with title (item 1 of argv)", "-e", "end run"]
    found = shutil.which("notify-send")
    return [found, "--app-name=caod"] if found else None


def check_command(argv: list[str]) -> str | None:
    """Why `argv` cannot run (None when it can)."""
    if not argv:
        return "a command sink needs a program: caoctl notify add command -- PROG ARGS"
    prog = argv[0]
    if "/" in prog:
        if not (os.path.isfile(prog) and os.access(prog, os.X_OK)):
            return f"{prog} is not an executable file"
    elif shutil.which(prog) is None:
        return f"{prog} is not on the daemon's PATH"
    return None


# ---------------------------------------------------------------- text and bodies


def summary(p: dict[str, Any]) -> str:
    """One line for people."""
    d = p.get("detail") or {}
    who = p.get("agent_name") or p.get("agent") or "?"
    if p.get("session"):
        who += f" [{p['session']}]"
    kind = p.get("kind")
    if kind == "status":
        reason = p.get("reason") or d.get("question") or d.get("reason")
        what = {"waiting_user_answer": "waits for an answer", "error": "shows an error", "exited": "exited",
                "completed": "completed its task"}.get(p.get("new") or "", f"is {p.get('new')}")
        gist = _gist(str(reason), question=p.get("new") == "waiting_user_answer") if reason else ""
        return f"{who} {what}" + (f": {gist}" if gist else "")
    if kind == "message":
        if d.get("notice"):
            what = NOTICES.get(d["notice"], d["notice"])
            return f"worker {d.get('worker')} {what} (caod told {who})"
        return f"message {d.get('id')} from {d.get('from')} {d.get('state')} for {who}"
    if kind == "stalled":
        return f"{who} stalled: no output for {d.get('after_s')}s"
    if kind == "spawned":
        return f"{who} started ({d.get('provider')})"
    if kind == "session":
        return f"session {d.get('session')} {d.get('state')}"
    if kind == "test":
        return "test notification from caod"
    return f"{kind} event for {who}"


def _gist(reason: str, question: bool) -> str:
    """One line of a reason that may be a piece of screen: the question asked, else its last line."""
    lines = [ln.strip(" │┃|╭╮╰╯─━") for ln in reason.splitlines()]
    lines = [ln for ln in lines if ln]
    if not lines:
        return ""
    asked = [ln for ln in lines if "?" in ln] if question else []
    return (asked[-1] if asked else lines[-1])[:200]


def webhook_body(fmt: str, payload: dict[str, Any]) -> bytes:
    if fmt == "slack":
        body: dict[str, Any] = {"text": f"caod: {payload['text']}"}
    elif fmt == "discord":
        body = {"content": f"caod: {payload['text']}"[:DISCORD_MAX]}
    else:
        body = payload
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


# ---------------------------------------------------------------- delivery


async def deliver(sink: Sink, payload: dict[str, Any], delivery_id: int) -> None:
    if sink.kind == "webhook":
        await _webhook(sink, payload, delivery_id)
    elif sink.kind == "desktop":
        argv = desktop_program()
        if argv is None:
            raise DeliveryFailed("neither notify-send nor osascript is on the daemon's PATH")
        await _run([*argv, "caod", payload["text"]], None, 10.0)
    else:
        data = json.dumps(payload, ensure_ascii=False).encode() + b"\n"
        await _run(sink.config["argv"], data, float(sink.config.get("timeout", 30.0)))


async def _webhook(sink: Sink, payload: dict[str, Any], delivery_id: int) -> None:
    body = webhook_body(sink.config.get("format", "json"), payload)
    headers = {"X-Caod-Event": str(payload.get("kind")), "X-Caod-Delivery": str(delivery_id)}
    if sink.secret:
        headers[SIGNATURE_HEADER] = signature(sink.secret, body)
    try:
        await http.post(sink.config["url"], body, headers)
    except http.HttpError as e:
        raise DeliveryFailed(str(e)) from None


async def _run(argv: list[str], stdin: bytes | None, timeout: float) -> None:
    """Run `argv` in its own process group, `stdin` on its stdin; killed (the group) after `timeout`."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, start_new_session=True)
    except OSError as e:
        raise DeliveryFailed(f"cannot run {argv[0]}: {e.strerror or e}") from None
    try:
        async with asyncio.timeout(timeout):
            _, err = await proc.communicate(stdin)
    except TimeoutError:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        await proc.wait()
        raise DeliveryFailed(f"{argv[0]} did not finish within {timeout:g}s (killed)") from None
    except BaseException:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        raise
    if proc.returncode != 0:
        tail = err.decode(errors="replace").strip().splitlines()
        raise DeliveryFailed(f"{argv[0]} exited {proc.returncode}" + (f": {tail[-1][:STDERR_KEPT]}" if tail else ""))
