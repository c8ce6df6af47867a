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


@click.command("hook")
@click.argument("event")
@click.argument("payload", required=False)
def command(event, payload):
    """Report EVENT (e.g. Stop); for Codex notify, a JSON PAYLOAD whose "type" names it."""
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
