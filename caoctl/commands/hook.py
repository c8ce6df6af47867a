"""caoctl hook: run by an agent's CLI on its own events (Claude Code hooks, Codex notify).

It reports the event to caod as the agent itself (its token) and never fails
the CLI: problems go to stderr and the exit code stays 0.
"""

from __future__ import annotations

import json
import os

import click

from caoctl.client import Client
from caod.protocol import HookParams


@click.command("hook", short_help="Report an agent CLI's own event to caod (run by the CLI's hooks).")
@click.argument("event")
@click.argument("payload", required=False)
def command(event, payload):
    """Report EVENT of the agent this runs in to caod, as that agent (its CAO_AGENT_TOKEN).

    \b
    caod sets the CLIs up to run it; nobody needs to run it by hand:
      Claude Code hooks  caoctl hook Stop (UserPromptSubmit, PermissionRequest)
      Codex notify       caoctl hook notify PAYLOAD (Codex's JSON; its "type",
                         e.g. agent-turn-complete, names the event)

    The provider maps the event to a status. A hook never fails the CLI that
    runs it: problems go to stderr and the exit code stays 0.
    """
    if payload:
        try:
            data = json.loads(payload)
            if isinstance(data, dict) and isinstance(data.get("type"), str):
                event = data["type"]
        except ValueError:
            pass
    token = os.environ.get("CAO_AGENT_TOKEN")
    if not token:
        click.echo("caoctl hook: not inside a caod agent (no CAO_AGENT_TOKEN)", err=True)
        return
    try:
        with Client(connect_timeout=2) as c:
            c.call("agent.hook", HookParams(token=token, event=event), timeout=5)
    except Exception as e:  # noqa: BLE001 - a hook must never break the CLI that runs it
        click.echo(f"caoctl hook: {e}", err=True)
