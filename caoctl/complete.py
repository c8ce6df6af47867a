"""Dynamic shell completion: live agent ids and names, session names, profile and provider names.

Click calls these while the shell asks for completions. They ask the daemon
with a short timeout and return nothing at all when it is down or slow, so a
Tab press never hangs or prints an error.
"""

from __future__ import annotations

import click
from click.shell_completion import CompletionItem

from caod import paths
from caoctl.client import Client
from caoctl.output import counted

CONNECT_TIMEOUT = 0.5
CALL_TIMEOUT = 1.5


def _socket(ctx: click.Context):
    """The socket the command line names (`caoctl --socket PATH ...`), else the default.

    During completion the group's callback does not run, so ctx.obj is unset;
    the parsed `--socket` value is in the root context's params.
    """
    return paths.socket_path(ctx.find_root().params.get("socket"))


def _ask(ctx: click.Context, method: str, params: dict):
    try:
        with Client(_socket(ctx), connect_timeout=CONNECT_TIMEOUT) as c:
            return c.call(method, params, timeout=CALL_TIMEOUT)
    except Exception:  # the daemon is down, slow or refused: no completions
        return None


def agent_ids(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Ids and names of live agents that start with `incomplete`."""
    result = _ask(ctx, "agent.list", {"live_only": True})
    if result is None:
        return []
    items = []
    for a in result.agents:
        label = " ".join(x for x in (a.name, a.role, a.provider, a.status.value) if x)
        if a.id.startswith(incomplete):
            items.append(CompletionItem(a.id, help=label))
        if a.name and a.name.startswith(incomplete):
            items.append(CompletionItem(a.name, help=f"{a.id} {a.provider} {a.status.value}"))
    return items


def session_names(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Names of active sessions that start with `incomplete`."""
    result = _ask(ctx, "session.list", {})
    if result is None:
        return []
    return [
        CompletionItem(s.name, help=f"{counted(len(s.agents), 'agent')} in {s.cwd}")
        for s in result.sessions
        if s.name.startswith(incomplete)
    ]


def profile_names(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Names of the daemon's profiles (built-in and installed) that start with `incomplete`."""
    result = _ask(ctx, "profile.list", {})
    if result is None:
        return []
    return [CompletionItem(p.name, help=(p.description.strip().splitlines() or [p.role])[0][:60])
            for p in result.profiles if p.name.startswith(incomplete)]


def provider_names(_ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Provider names (built-in and from the providers folder) that start with `incomplete`."""
    import providers

    try:
        names = providers.names()
    except OSError:
        return []
    return [CompletionItem(name) for name in names if name.startswith(incomplete)]
