"""The caoctl command line: one click group, one module per command."""

from __future__ import annotations

import sys

import click

from caod import __version__, paths
from caoctl.client import DaemonUnavailable, RpcFailure
from caoctl.commands import (
    attach, completion, daemon, demo, doctor, events, gc, hook, install, kill, launch, logs, ls, mcp, output,
    profile, provider, send, session, shutdown, spawn, status, tmux, wait, watch,
)
from caoctl.common import EXIT_FAILED, EXIT_NO_DAEMON, EXIT_TIMEOUT, Settings
from caod.protocol import ErrorCode


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--socket", metavar="PATH", help="caod socket (default: $CAOD_SOCKET, else $XDG_RUNTIME_DIR/caod/caod.sock).")
@click.version_option(__version__, prog_name="caoctl")
@click.pass_context
def cli(ctx: click.Context, socket: str | None) -> None:
    """Drive caod, the orchestrator of AI coding CLIs."""
    ctx.obj = Settings(paths.socket_path(socket))


for module in (daemon, spawn, ls, status, send, wait, output, events, kill, attach, launch, session, shutdown,
               install, profile, provider, mcp, hook, demo, watch, logs, tmux, doctor, completion, gc):
    cli.add_command(module.command)


def main(argv: list[str] | None = None) -> None:
    try:
        code = cli.main(args=argv, prog_name="caoctl", standalone_mode=False)
    except click.ClickException as e:
        e.show()
        code = e.exit_code
    except click.exceptions.Abort:
        code = 130
    except DaemonUnavailable as e:
        click.echo(f"caoctl: {e}", err=True)
        code = EXIT_NO_DAEMON
    except RpcFailure as e:
        click.echo(f"caoctl: {e.message}", err=True)
        code = EXIT_TIMEOUT if e.code == ErrorCode.TIMEOUT else EXIT_FAILED
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        code = 0
    except ConnectionError as e:
        click.echo(f"caoctl: lost the connection to the daemon: {e}", err=True)
        code = EXIT_FAILED
    sys.exit(code if isinstance(code, int) else 0)
