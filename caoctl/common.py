"""What every command shares: the socket option, connecting, failing cleanly."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

from caod import paths
from caoctl.client import Client
from caoctl.errors import (  # noqa: F401 (the exit codes, stable for scripts: see caoctl.errors)
    EXIT_FAILED, EXIT_NO_DAEMON, EXIT_TIMEOUT, EXIT_USAGE, EXIT_WAITING, report, want_json,
)


class CommandFailed(click.ClickException):
    """A one-line error and an exit code; never a traceback."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED):
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file=None) -> None:  # type: ignore[override]
        report(self.message, self.exit_code)


@dataclass
class Settings:
    socket: Path


def settings(ctx: click.Context) -> Settings:
    return ctx.find_object(Settings) or Settings(paths.socket_path())


def connect(ctx: click.Context) -> Client:
    return Client(settings(ctx).socket)


json_option = click.option("--json", "as_json", is_flag=True, callback=want_json,
                           help="Print JSON for scripts instead of text (errors too, on stderr).")


def env_pairs(_ctx, _param, values: tuple[str, ...]) -> dict[str, str]:
    """click callback: KEY=VALUE options as a dict."""
    env = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}")
        env[key] = value
    return env
