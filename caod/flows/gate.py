"""A flow's script gate: an executable run before each run, printing one JSON object
{"execute": bool, "output": {...}}. `execute: false` skips the run; `output` fills the
prompt's [[name]] placeholders. Run off the event loop's back (a subprocess, awaited),
with a timeout after which it is killed."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from dataclasses import dataclass
from typing import Any

MAX_OUTPUT = 1 << 20  # bytes of stdout read; a gate prints a small object


class GateFailed(Exception):
    """The script could not say whether to run; the message is one line (the run's reason)."""


@dataclass
class Verdict:
    execute: bool
    output: dict[str, Any]


def check_runnable(path: str) -> str | None:
    """Why `path` cannot be run as a script, or None."""
    if not os.path.exists(path):
        return "no such file"
    if not os.path.isfile(path):
        return "not a file"
    if not os.access(path, os.R_OK):
        return "not readable"
    if not os.access(path, os.X_OK):
        return "not executable (chmod +x it; its #! line picks the interpreter)"
    return None


def _last_line(data: bytes) -> str:
    lines = [ln.strip() for ln in data.decode("utf-8", "replace").splitlines() if ln.strip()]
    return lines[-1][:200] if lines else ""


async def run_gate(script: str, cwd: str, timeout: float, env: dict[str, str]) -> Verdict:
    problem = check_runnable(script)
    if problem:
        raise GateFailed(f"script {script} cannot be run: {problem}")
    try:
        proc = await asyncio.create_subprocess_exec(
            script, cwd=cwd, env=env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True)
    except OSError as e:
        raise GateFailed(f"script {script} cannot be run: {e.strerror or e}") from None
    timed_out = False
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        timed_out = True
        raise GateFailed(f"script {script} did not finish within {timeout:g}s (killed)") from None
    finally:
        if timed_out or proc.returncode is None:  # or caod stops: it and what it started (holding its stdout) go
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # its own group (start_new_session)
            except ProcessLookupError:
                pass
            await asyncio.shield(proc.wait())
    if proc.returncode != 0:
        why = _last_line(err) or _last_line(out)
        raise GateFailed(f"script {script} exited {proc.returncode}" + (f": {why}" if why else ""))
    if len(out) > MAX_OUTPUT:
        raise GateFailed(f"script {script} printed more than {MAX_OUTPUT // 1024} KiB")
    try:
        verdict = json.loads(out.decode("utf-8", "replace"))
    except ValueError as e:
        raise GateFailed(f"script {script} printed no JSON object ({e}): {_last_line(out)!r}") from None
    if not isinstance(verdict, dict) or not isinstance(verdict.get("execute"), bool):
        raise GateFailed(f"script {script} must print {{\"execute\": true|false, \"output\": {{...}}}}, "
                         f"got {_last_line(out)!r}")
    output = verdict.get("output", {})
    if output is None:
        output = {}
    if not isinstance(output, dict):
        raise GateFailed(f"script {script}: 'output' must be an object of values, got {json.dumps(output)[:80]}")
    return Verdict(verdict["execute"], output)
