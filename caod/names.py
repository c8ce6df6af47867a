"""The rule for names people give agents: what ls, watch and tmux print must be plain text.

A name is 1-64 printable characters (str.isprintable: no control characters, no
escape sequences, no format characters such as bidi overrides or zero-width
marks, no line separators), without surrounding spaces. Wide (CJK) characters
are fine: caoctl pads its tables by display width.
"""

from __future__ import annotations

from caod.protocol import ErrorCode
from caod.rpc import RpcError

MAX_NAME = 64


def name_problem(name: str) -> str | None:
    """Why `name` is refused, or None."""
    if not name or len(name) > MAX_NAME:
        return f"it must be 1-{MAX_NAME} characters (it has {len(name)})"
    bad = next((c for c in name if not c.isprintable()), None)
    if bad is not None:
        return f"it holds the control character {bad!r}; use printable characters only"
    if name.strip() != name:
        return "it must not start or end with a space"
    return None


def check_name(kind: str, name: str) -> None:
    """Refuse a bad `kind` name (e.g. "agent") with one line that shows it escaped."""
    problem = name_problem(name)
    if problem is not None:
        shown = repr(name if len(name) <= MAX_NAME + 16 else name[:MAX_NAME] + "…")  # repr escapes controls
        raise RpcError(ErrorCode.INVALID_PARAMS, f"bad {kind} name {shown}: {problem}")
