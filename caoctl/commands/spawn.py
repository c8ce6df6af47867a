"""caoctl spawn: start an agent and print its id."""

from __future__ import annotations

import os

import click

from caoctl.common import EXIT_WAITING, CommandFailed, connect, env_pairs, json_option
from caoctl.complete import provider_names
from caoctl.output import emit_json
from caod.protocol import SpawnParams, WaitParams
from caod.status import Status


@click.command("spawn")
@click.option("--provider", "-p", required=True, shell_complete=provider_names, help="Provider name (see the README; e.g. scripted).")
@click.option("--cwd", type=click.Path(file_okay=False), help="Working directory (default: here).")
@click.option("--name", "-n", help="A name to use instead of the id.")
@click.option("--env", "-e", multiple=True, callback=env_pairs, metavar="K=V", help="Extra environment (repeatable).")
@click.option("--arg", "args", multiple=True, metavar="ARG", help="Extra argument for the CLI (repeatable).")
@click.option("--rows", type=click.IntRange(1, 500), default=40, show_default=True)
@click.option("--cols", type=click.IntRange(1, 1000), default=120, show_default=True)
@click.option("--isolate-home", is_flag=True,
              help="A private HOME with the provider's config files (no onboarding, updaters off).")
@click.option("--yolo", is_flag=True, help="Start the CLI in the mode that skips its permission prompts.")
@click.option("--wait", "wait_ready", is_flag=True,
              help="Return once the agent is ready; exit 3 if it stops at a question (a login), 1 on an error.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=60, show_default=True)
@json_option
@click.pass_context
def command(ctx, provider, cwd, name, env, args, rows, cols, isolate_home, yolo, wait_ready, timeout, as_json):
    """Start an agent in its own PTY and print its id.

    With --wait, a CLI that stops at a dialog caod cannot answer (a login, an
    API key) prints its id, then the dialog's text, and exits 3; one that shows
    an error, never gets ready, or exits while starting prints why and exits 1.
    """
    cwd = os.path.abspath(cwd) if cwd else os.getcwd()  # the caller's folder, not the daemon's
    with connect(ctx) as c:
        info = c.call(
            "agent.spawn",
            SpawnParams(provider=provider, cwd=cwd, name=name, env=env, args=list(args), rows=rows, cols=cols,
                        isolate_home=isolate_home, yolo=yolo),
        )
        if wait_ready:
            ready = [Status.IDLE, Status.COMPLETED, Status.WAITING, Status.ERROR, Status.EXITED]
            info = c.call("agent.wait", WaitParams(agent=info.id, statuses=ready, timeout=timeout))
    if as_json:
        emit_json(info)
    else:
        click.echo(info.id)
    if not wait_ready:
        return
    # One line: the reason's lines (a dialog's text, an error) joined; `caoctl status` shows it as drawn.
    why = ": " + " / ".join(line for line in info.reason.splitlines() if line.strip()) if info.reason else ""
    if info.status is Status.EXITED:
        raise CommandFailed(f"agent {info.id} exited while starting (exit code {info.exit_code}){why}")
    if info.status is Status.ERROR:
        raise CommandFailed(f"agent {info.id} failed to start{why}")
    if info.status is Status.WAITING:
        raise CommandFailed(f"agent {info.id} is waiting for an answer{why}", EXIT_WAITING)
