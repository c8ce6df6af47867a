"""How caoctl reports a failure: one `caoctl: ...` line on stderr, or with --json one JSON line.

Exit codes, stable for scripts:
  1    the daemon refused, or the agent failed
  2    a usage error (a bad option or argument), as click and most tools use it
  3    the agent stopped at a question (waiting_user_answer); `daemon status`: not running
  69   no daemon answers on the socket (sysexits' EX_UNAVAILABLE)
  124  timeout, like timeout(1)
  130  interrupted (Ctrl-C)
With --json the line is {"error": {"code": KIND, "exit_code": N, "message": ...}} (plus
"rpc_code", the daemon's JSON-RPC error code, when the daemon refused): stdout keeps only
results, so a script reading it never takes an error for one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from caoctl.text import visible

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_WAITING = 3
EXIT_NO_DAEMON = 69
EXIT_TIMEOUT = 124
EXIT_INTERRUPTED = 130

KINDS = {EXIT_FAILED: "failed", EXIT_USAGE: "usage", EXIT_WAITING: "waiting", EXIT_NO_DAEMON: "no_daemon",
         EXIT_TIMEOUT: "timeout", EXIT_INTERRUPTED: "interrupted"}


class DaemonUnavailable(Exception):
    def __init__(self, path: Path, reason: str):
        super().__init__(f"no daemon answers on {path} ({reason}); start one with: caoctl daemon start")
        self.path = path


class RpcFailure(Exception):
    """The daemon answered with a JSON-RPC error."""

    def __init__(self, code: int, message: str, data: Any = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


class _Mode:
    json = False  # set by --json as it is parsed (see common.json_option)


mode = _Mode()


def want_json(_ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    """click callback of --json: errors from here on are JSON too."""
    if value:
        mode.json = True
    return value


def json_in(args: list[str]) -> bool:
    """Whether --json is among the options (for usage errors, raised before options are read)."""
    options = args[: args.index("--")] if "--" in args else args
    return "--json" in options


def one_line(text: str) -> str:
    """On one line, with any control character shown escaped (a name typed with an escape
    code is echoed in the error, and must not paint the terminal)."""
    return visible(" ".join(str(text).split()))


def usage_message(e: click.UsageError) -> str:
    """click's three-line usage error as one line, with where to look."""
    message = one_line(e.format_message()).rstrip(".")
    if message[:1].isupper() and not message[1:2].isupper():
        message = message[0].lower() + message[1:]
    where = e.ctx.command_path if e.ctx is not None else "caoctl"
    return f"{message} (see {where} --help)"


def report(message: str, exit_code: int, rpc_code: int | None = None) -> int:
    """Print the error the way the caller asked for; return the exit code."""
    message = one_line(message)
    if mode.json:
        error: dict = {"code": KINDS.get(exit_code, "failed"), "exit_code": exit_code, "message": message}
        if rpc_code is not None:
            error["rpc_code"] = rpc_code
        click.echo(json.dumps({"error": error}, ensure_ascii=False), err=True)
    else:
        click.echo(f"caoctl: {message}", err=True)
    return exit_code
