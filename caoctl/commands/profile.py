"""caoctl profile list|show: the agent profiles the daemon knows."""

from __future__ import annotations

import json

import click

from caoctl.common import connect, json_option
from caoctl.complete import profile_names
from caoctl.output import emit_json, table
from caod.protocol import Empty, ProfileInfo, ProfileRef

DESCRIPTION_WIDTH = 60


def _short(text: str, width: int = DESCRIPTION_WIDTH) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 3] + "..."


def profiles_table(profiles: list[ProfileInfo]) -> str:
    return table(
        ["NAME", "ROLE", "PROVIDER", "SOURCE", "DESCRIPTION"],
        ([p.name, p.role, p.provider or "-", p.source, _short(p.description)] for p in profiles),
    )


def _server_text(spec: dict) -> str:
    if spec.get("command"):
        return " ".join([str(spec["command"]), *map(str, spec.get("args") or [])])
    return str(spec.get("url", "?"))


def profile_details(p: ProfileInfo) -> str:
    fields = [
        ("name", p.name),
        ("description", " ".join(p.description.split())),
        ("role", p.role),
        ("provider", p.provider or "- (any)"),
        ("model", p.model or "- (provider default)"),
        ("source", p.source),
        ("path", p.path),
    ]
    if p.tags:
        fields.append(("tags", ", ".join(p.tags)))
    if p.allowed_tools is not None:
        fields.append(("tools", ", ".join(p.allowed_tools) or "(none)"))
    lines = [f"{k + ':':<13}{v}" for k, v in fields]
    if p.mcp_servers:
        lines.append("mcp servers:")
        lines += [f"  {name}: {_server_text(spec) if isinstance(spec, dict) else json.dumps(spec)}"
                  for name, spec in p.mcp_servers.items()]
    lines += ["", p.system_prompt or ""]
    return "\n".join(lines)


@click.group("profile")
def command():
    """List and show agent profiles (install one with `caoctl install`)."""


@command.command("list")
@json_option
@click.pass_context
def list_cmd(ctx, as_json):
    """List profiles: built-ins, and yours (which override built-ins of the same name)."""
    with connect(ctx) as c:
        profiles = c.call("profile.list", Empty()).profiles
    if as_json:
        emit_json(profiles)
    elif profiles:
        click.echo(profiles_table(profiles))
    else:
        click.echo("no profiles")


@command.command("show")
@click.argument("name", shell_complete=profile_names)
@json_option
@click.pass_context
def show(ctx, name, as_json):
    """Show one profile: its fields, then its system prompt."""
    with connect(ctx) as c:
        info = c.call("profile.get", ProfileRef(name=name))
    emit_json(info) if as_json else click.echo(profile_details(info))
