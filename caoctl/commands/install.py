"""caoctl install: add a profile to the daemon's user store, from a file or a built-in."""

from __future__ import annotations

import os
import sys

import click

from caoctl.client import RpcFailure
from caoctl.common import CommandFailed, connect, json_option
from caoctl.complete import profile_names
from caoctl.output import emit_json
from caod.protocol import ErrorCode, InstallParams

NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def read_profile_file(path: str) -> str:
    """The file's text, or a one-line CommandFailed."""
    if path == "-":
        return sys.stdin.read()
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            return fh.read()
    except UnicodeDecodeError:
        raise CommandFailed(f"cannot read {path}: not UTF-8 text") from None
    except OSError as e:
        raise CommandFailed(f"cannot read {path}: {e.strerror or e}") from None


@click.command("install")
@click.argument("profile", metavar="PATH|NAME", shell_complete=profile_names)
@click.option("--force", is_flag=True, help="Replace a different user profile of the same name.")
@json_option
@click.pass_context
def command(ctx, profile, force, as_json):
    """Install an agent profile.

    PATH is a Markdown profile file (- reads it from stdin); NAME copies a
    built-in profile (code_supervisor, developer, reviewer) into your store,
    where you can edit it. User profiles override built-ins of the same name.
    A bare NAME that is also a file here means the built-in; give the file as
    ./NAME.
    """
    is_file = profile == "-" or os.path.isfile(profile)
    bare = profile not in ("", "-") and set(profile) <= NAME_CHARS
    if os.path.isdir(profile) and not bare:
        raise CommandFailed(f"{profile} is a directory, not a profile file")
    if not is_file and not bare:
        raise CommandFailed(f"no such file or built-in profile: {profile}")
    builtin = False  # which one was installed
    with connect(ctx) as c:
        if bare:  # the built-in first; a file of that name only when there is no such built-in
            try:
                info = c.call("profile.install", InstallParams(builtin=profile, force=force))
                builtin = True
            except RpcFailure as e:
                if e.code != ErrorCode.NO_SUCH_PROFILE:
                    raise
                if not is_file:
                    if os.path.isdir(profile):
                        raise CommandFailed(f"{profile} is a directory, not a profile file") from None
                    raise CommandFailed(f"no such file or built-in profile: {profile} ({_known(e.message)})") from None
        if not builtin:
            info = c.call("profile.install", InstallParams(
                text=read_profile_file(profile), source="<stdin>" if profile == "-" else profile, force=force))
    if as_json:
        emit_json(info)
        return
    if builtin:
        other = f" (not the file {profile} here: for that, give ./{profile})" if is_file else ""
        click.echo(f"installed built-in profile {info.name} (role {info.role}) -> {info.path}{other}")
    else:
        source = "stdin" if profile == "-" else f"the file {profile}"
        click.echo(f"installed profile {info.name} (role {info.role}) from {source} -> {info.path}")


def _known(message: str) -> str:
    """'built-ins: a, b' out of the daemon's message, or the message itself."""
    start = message.find("(")
    return message[start + 1:].rstrip(")") if start >= 0 and message.endswith(")") else message
