"""What every command shares: the socket option, connecting, failing cleanly."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

from caod import paths
from caoctl.client import Client

# Exit codes, stable for scripts.
EXIT_FAILED = 1  # the daemon refused or the agent failed
EXIT_NO_DAEMON = 2
EXIT_WAITING = 3  # the agent stopped at a question (waiting_user_answer)
EXIT_TIMEOUT = 124  # like timeout(1)


class CommandFailed(click.ClickException):
    """A one-line error and an exit code; never a traceback."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED):
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file=None) -> None:  # type: ignore[override]
        click.echo(f"caoctl: {self.message}", err=True)


@dataclass
class Settings:
    socket: Path


def settings(ctx: click.Context) -> Settings:
    return ctx.find_object(Settings) or Settings(paths.socket_path())


def connect(ctx: click.Context) -> Client:
    return Client(settings(ctx).socket)


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts instead of text.")


def env_pairs(_ctx, _param, values: tuple[str, ...]) -> dict[str, str]:
    """click callback: KEY=VALUE options as a dict."""
    env = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}")
        env[key] = value
    return env
