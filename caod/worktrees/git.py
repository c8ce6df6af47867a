"""Running git for caod: asynchronously, without a terminal, never asking a question.

Every call is one `git -C FOLDER ...` subprocess awaited on the event loop. A
failure is GitFailed with git's own first line of complaint.
"""

from __future__ import annotations

import asyncio
import os

GIT_TIMEOUT_S = 120.0
# caod's commits on a worker's behalf when the repository names nobody.
FALLBACK_NAME, FALLBACK_EMAIL = "caod", "caod@localhost"


class GitFailed(Exception):
    """git exited non-zero (or could not run); str(e) is one line."""

    def __init__(self, message: str, code: int | None = None, out: str = ""):
        super().__init__(message)
        self.code = code
        self.out = out


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    env = dict(os.environ)
    # No prompts (credentials, editors, pagers) and no local language in what we parse.
    env.update({"GIT_TERMINAL_PROMPT": "0", "GIT_EDITOR": "true", "GIT_PAGER": "cat", "LC_ALL": "C"})
    env.pop("GIT_DIR", None)
    env.pop("GIT_WORK_TREE", None)
    env.pop("GIT_INDEX_FILE", None)
    env.update(extra or {})
    return env


async def run(folder: str, *args: str, ok: tuple[int, ...] = (0,),
              env: dict[str, str] | None = None) -> tuple[int, str]:
    """(exit code, stdout) of `git -C folder args`; GitFailed for a code not in `ok`."""
    try:
        proc = await asyncio.create_subprocess_exec(
            "git", "-C", folder, *args, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=_env(env))
    except OSError as e:
        raise GitFailed(f"cannot run git: {e.strerror or e}") from None
    try:
        out, err = await asyncio.wait_for(proc.communicate(), GIT_TIMEOUT_S)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise GitFailed(f"git {args[0]} took longer than {GIT_TIMEOUT_S:g}s") from None
    text = out.decode("utf-8", "replace")
    if proc.returncode not in ok:
        lines = [line.strip() for line in err.decode("utf-8", "replace").splitlines() if line.strip()]
        why = next((line for line in lines if line.startswith(("fatal:", "error:"))), lines[0] if lines else "")
        raise GitFailed(f"git {args[0]} failed: {why or f'exit code {proc.returncode}'}", proc.returncode, text)
    return proc.returncode, text


async def out(folder: str, *args: str, env: dict[str, str] | None = None) -> str:
    return (await run(folder, *args, env=env))[1].strip()


async def identity(folder: str) -> dict[str, str]:
    """Environment naming caod as author and committer, only where the repository names nobody."""
    code, name = await run(folder, "config", "user.name", ok=(0, 1))
    code2, email = await run(folder, "config", "user.email", ok=(0, 1))
    env = {}
    if code or not name.strip():
        env.update({"GIT_AUTHOR_NAME": FALLBACK_NAME, "GIT_COMMITTER_NAME": FALLBACK_NAME})
    if code2 or not email.strip():
        env.update({"GIT_AUTHOR_EMAIL": FALLBACK_EMAIL, "GIT_COMMITTER_EMAIL": FALLBACK_EMAIL})
    return env
