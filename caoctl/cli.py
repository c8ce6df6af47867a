"""The caoctl command line: one click group, one module per command."""

from __future__ import annotations

import sys

import click

from caod import __version__, paths
from caoctl import errors
from caoctl.client import DaemonUnavailable, RpcFailure
from caoctl.commands import (
    attach, completion, daemon, demo, diff, doctor, events, gc, hook, install, kill, launch, logs, ls, mcp, memory,
    merge, notify, output, profile, provider, send, session, shutdown, spawn, status, tmux, wait, watch, workflow,
    worktree,
)
from caoctl.common import Settings
from caoctl.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_NO_DAEMON, EXIT_TIMEOUT, EXIT_USAGE, report
from caod.protocol import ErrorCode


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--socket", metavar="PATH", help="caod socket (default: $CAOD_SOCKET, else $XDG_RUNTIME_DIR/caod/caod.sock).")
@click.version_option(__version__, prog_name="caoctl")
@click.pass_context
def cli(ctx: click.Context, socket: str | None) -> None:
    """Drive caod, the orchestrator of AI coding CLIs.

    Exit codes: 0 ok, 1 failed, 2 usage error, 3 waiting for an answer,
    69 no daemon, 124 timeout. Errors are one `caoctl: ...` line on stderr
    (with --json, one JSON object: {"error": {"code", "exit_code", "message"}}).
    """
    ctx.obj = Settings(paths.socket_path(socket))


for module in (daemon, spawn, ls, status, send, wait, output, events, kill, attach, launch, session, shutdown,
               install, profile, provider, mcp, hook, demo, watch, logs, tmux, doctor, completion, gc, worktree, diff,
               merge, memory, notify, workflow):
    cli.add_command(module.command)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else list(argv)
    errors.mode.json = False
    try:
        code = cli.main(args=args, prog_name="caoctl", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as e:  # a group without its command: its help, as click does
        e.show()
        code = e.exit_code
    except click.UsageError as e:
        errors.mode.json = errors.mode.json or errors.json_in(args)  # --json may not be read yet
        code = report(errors.usage_message(e), EXIT_USAGE)
    except click.ClickException as e:  # CommandFailed, and click's own (a file that cannot be opened)
        code = report(e.format_message(), e.exit_code)
    except click.exceptions.Abort:
        code = EXIT_INTERRUPTED
    except DaemonUnavailable as e:
        code = report(str(e), EXIT_NO_DAEMON)
    except RpcFailure as e:
        code = report(e.message, EXIT_TIMEOUT if e.code == ErrorCode.TIMEOUT else EXIT_FAILED, rpc_code=e.code)
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    except BrokenPipeError:
        code = 0
    except ConnectionError as e:
        code = report(f"lost the connection to the daemon: {e}", EXIT_FAILED)
    sys.exit(code if isinstance(code, int) else 0)
