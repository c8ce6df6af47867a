"""The caoctl command line: one click group, one module per command, loaded when it runs.

Importing every command up front cost about 200 ms per run (`logs` alone pulls in
pyte, structlog and rich), so the group knows its commands from COMMANDS, a table
of name -> (module, the help line `caoctl --help` lists), and imports a command's
module only when that command is invoked (tests/caoctl/test_cli.py checks that the
table matches the commands themselves).
"""

from __future__ import annotations

import sys
from typing import NamedTuple

import click

from caod import __version__, paths
from caoctl import errors
from caoctl.errors import (
    EXIT_FAILED, EXIT_INTERRUPTED, EXIT_NO_DAEMON, EXIT_TIMEOUT, EXIT_USAGE, DaemonUnavailable, RpcFailure, report,
)


class Listed(NamedTuple):
    """Where a command lives and what `caoctl --help` says of it, without importing it."""

    module: str
    help: str                     # the first paragraph of its help (click shortens it to fit)
    short_help: str | None = None  # the command's own short_help, shown as is


COMMANDS: dict[str, Listed] = {
    "attach": Listed("caoctl.commands.attach",
                     "Watch AGENT live and type into it; Ctrl-] detaches (the agent keeps running)."),
    "completion": Listed("caoctl.commands.completion", "Print the completion script for SHELL (bash, zsh or fish)."),
    "daemon": Listed("caoctl.commands.daemon", "Start, stop or inspect the caod daemon."),
    "demo": Listed("caoctl.commands.demo",
                   "Run a scripted team: handoff to a developer, assign to a reviewer, collect its report."),
    "diff": Listed("caoctl.commands.diff",
                   "Show what AGENT changed in its worktree since it started (untracked files too)."),
    "doctor": Listed("caoctl.commands.doctor",
                     "Check the daemon, its socket and home, tmux, the provider CLIs and this install."),
    "events": Listed("caoctl.commands.events",
                     "Print recent events; with --follow, stream new ones (JSON: one object per line)."),
    "flow": Listed("caoctl.commands.flow",
                   "Scheduled runs: a Markdown flow file (CAO's format) launches a session on a cron schedule."),
    "gc": Listed("caoctl.commands.gc", "Remove exited agents: their records, folders and transcripts."),
    "hook": Listed("caoctl.commands.hook",
                   "Report EVENT of the agent this runs in to caod, as that agent (its CAO_AGENT_TOKEN).",
                   "Report an agent CLI's own event to caod (run by the CLI's hooks)."),
    "install": Listed("caoctl.commands.install", "Install an agent profile."),
    "install-mcp": Listed("caoctl.commands.install_mcp",
                          "Print (or --write) what registers caod's ops server with CLI's MCP configuration."),
    "kill": Listed("caoctl.commands.kill", "Stop one or more agents and wait until they are gone."),
    "launch": Listed("caoctl.commands.launch",
                     "Start a session: its supervisor from PROFILE, then TASK (queued until it is ready)."),
    "logs": Listed("caoctl.commands.logs",
                   "Print the daemon log, or with --agent an agent's transcript rendered as text."),
    "ls": Listed("caoctl.commands.ls", "List agents."),
    "mcp": Listed("caoctl.commands.mcp", "Run the MCP stdio bridge an agent's CLI starts (not for people)."),
    "memory": Listed("caoctl.commands.memory",
                     "Notes agents and people keep across sessions (MCP: memory_store, memory_recall, memory_forget)."),
    "merge": Listed("caoctl.commands.merge",
                    "Merge AGENT's worktree branch into the branch checked out in the session's folder."),
    "notify": Listed("caoctl.commands.notify",
                     "Send caod's events to people and programs: webhooks, desktop notifications, commands."),
    "output": Listed("caoctl.commands.output",
                     "Print AGENT's screen (rendered text, no escape codes) or its last answer."),
    "profile": Listed("caoctl.commands.profile", "List and show agent profiles (install one with `caoctl install`)."),
    "provider": Listed("caoctl.commands.provider", "The CLIs caod can run, and how a screen of one reads."),
    "send": Listed("caoctl.commands.send", "Send TEXT to AGENT as one pasted message ('-' reads it from stdin)."),
    "session": Listed("caoctl.commands.session", "Look at sessions and talk to them."),
    "shutdown": Listed("caoctl.commands.shutdown", "Stop every agent of a session and mark it ended."),
    "skill": Listed("caoctl.commands.skill", "Skill documents for agents (how to use caod's tools well)."),
    "spawn": Listed("caoctl.commands.spawn", "Start an agent in its own PTY and print its id."),
    "status": Listed("caoctl.commands.status", "Show one agent (by id or name)."),
    "tmux": Listed("caoctl.commands.tmux",
                   "Open SESSION's live agents in a tmux session `caod-SESSION`, one window each."),
    "wait": Listed("caoctl.commands.wait", "Wait until AGENT's status is one of --status (exit 124 on timeout)."),
    "watch": Listed("caoctl.commands.watch",
                    "A live table of the agents: status and for how long, last event, inbox depth (Ctrl-C quits)."),
    "web": Listed("caoctl.commands.web",
                  "Serve the dashboard (sessions, agents, their live screens) in the browser; Ctrl-C stops it."),
    "workflow": Listed("caoctl.commands.workflow",
                       "Workflows: propose/critique/refine and other fixed sequences of turns across agents."),
    "worktree": Listed("caoctl.commands.worktree", "The workers' git worktrees (handoff/assign with use_worktree)."),
}


class LazyGroup(click.Group):
    """A group whose commands are imported when they run; its help lists them from COMMANDS."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        listed = COMMANDS.get(name)
        if listed is None:
            return None
        # __import__, not importlib.import_module: it goes through the import statement's own
        # path, which `python -X importtime` reports (the check in tests/caoctl/test_cli.py).
        return __import__(listed.module, fromlist=["command"]).command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As click's, from the table: a stand-in per command gives the very same short help."""
        rows = [(name, click.Command(name, help=COMMANDS[name].help, short_help=COMMANDS[name].short_help))
                for name in self.list_commands(ctx)]
        limit = formatter.width - 6 - max(len(name) for name, _ in rows)
        with formatter.section("Commands"):
            formatter.write_dl([(name, stand_in.get_short_help_str(limit)) for name, stand_in in rows])

    def resolve_command(self, ctx: click.Context, args: list[str]):
        try:
            return super().resolve_command(ctx, args)
        except click.exceptions.NoSuchCommand:  # click suggests names from self.commands, empty here
            raise click.exceptions.NoSuchCommand(args[0], possibilities=list(COMMANDS), ctx=ctx) from None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--socket", metavar="PATH", help="caod socket (default: $CAOD_SOCKET, else $XDG_RUNTIME_DIR/caod/caod.sock).")
@click.version_option(__version__, prog_name="caoctl")
@click.pass_context
def cli(ctx: click.Context, socket: str | None) -> None:
    """Drive caod, the orchestrator of AI coding CLIs.

    Exit codes: 0 ok, 1 failed, 2 usage error, 3 waiting for an answer,
    69 no daemon, 124 timeout. Errors are one `caoctl: ...` line on stderr
    (with --json, one JSON object: {"error": {"code", "exit_code", "message"}}).
    """
    from caoctl.common import Settings  # imports the client: not needed for --help

    ctx.obj = Settings(paths.socket_path(socket))


def _timeout_code() -> int:
    from caod.protocol import ErrorCode  # loaded already: only a daemon's answer raises RpcFailure

    return ErrorCode.TIMEOUT


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
        code = report(e.message, EXIT_TIMEOUT if e.code == _timeout_code() else EXIT_FAILED, rpc_code=e.code)
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    except BrokenPipeError:
        code = 0
    except ConnectionError as e:
        code = report(f"lost the connection to the daemon: {e}", EXIT_FAILED)
    sys.exit(code if isinstance(code, int) else 0)
