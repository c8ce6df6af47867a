"""caoctl install-mcp --ops CLI: register caod's ops server in a CLI's own MCP configuration."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from caoctl.common import CommandFailed, settings
from caoctl.mcp_registration import NAME, TARGETS, RegistrationError, snippet, write


@click.command("install-mcp")
@click.argument("cli", type=click.Choice(sorted(TARGETS)))
@click.option("--ops", is_flag=True, required=True, help="The ops server (the only one to register by hand).")
@click.option("--write", "write_file", is_flag=True,
              help="Merge it into the CLI's file in your home (a backup of the file is made first).")
@click.pass_context
def command(ctx, cli, ops, write_file):
    """Print (or --write) what registers caod's ops server with CLI's MCP configuration."""
    target = TARGETS[cli]
    argv = [sys.executable, "-m", "caoctl", "mcp", "--ops"]
    if ctx.find_root().params.get("socket") or os.environ.get("CAOD_SOCKET"):  # not the default: name it
        argv[3:3] = ["--socket", str(settings(ctx).socket)]
    home = Path(os.path.expanduser("~"))
    if not write_file:
        click.echo(f"# add to {target.path(home)} (or run: caoctl install-mcp {cli} --ops --write)")
        click.echo(snippet(target, argv, {}))
        return
    try:
        path, backup = write(target, home, argv, {})
    except RegistrationError as e:
        raise CommandFailed(str(e)) from None
    except OSError as e:
        raise CommandFailed(f"cannot write {target.path(home)}: {e.strerror or e}") from None
    click.echo(f"registered {NAME} in {path}" + (f" (backup: {backup})" if backup else ""))
