"""caoctl spawn: start an agent and print its id."""

from __future__ import annotations

import click

from caoctl.common import CommandFailed, connect, env_pairs, json_option
from caoctl.output import emit_json
from caod.protocol import SpawnParams, WaitParams
from caod.status import Status


@click.command("spawn")
@click.option("--provider", "-p", required=True, help="Provider name (see the README; e.g. scripted).")
@click.option("--cwd", type=click.Path(file_okay=False), help="Working directory (default: here).")
@click.option("--name", "-n", help="A name to use instead of the id.")
@click.option("--env", "-e", multiple=True, callback=env_pairs, metavar="K=V", help="Extra environment (repeatable).")
@click.option("--arg", "args", multiple=True, metavar="ARG", help="Extra argument for the CLI (repeatable).")
@click.option("--rows", type=click.IntRange(1, 500), default=40, show_default=True)
@click.option("--cols", type=click.IntRange(1, 1000), default=120, show_default=True)
@click.option("--isolate-home", is_flag=True,
              help="A private HOME with the provider's config files (no onboarding, updaters off).")
@click.option("--wait", "wait_ready", is_flag=True, help="Return only once the agent is ready for input.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=60, show_default=True)
@json_option
@click.pass_context
def command(ctx, provider, cwd, name, env, args, rows, cols, isolate_home, wait_ready, timeout, as_json):
    """Start an agent in its own PTY and print its id."""
    with connect(ctx) as c:
        info = c.call(
            "agent.spawn",
            SpawnParams(provider=provider, cwd=cwd, name=name, env=env, args=list(args), rows=rows, cols=cols,
                        isolate_home=isolate_home),
        )
        if wait_ready:
            ready = [Status.IDLE, Status.COMPLETED, Status.WAITING, Status.ERROR, Status.EXITED]
            info = c.call("agent.wait", WaitParams(agent=info.id, statuses=ready, timeout=timeout))
            if info.status is Status.EXITED:
                raise CommandFailed(f"agent {info.id} exited while starting (exit code {info.exit_code})")
    if as_json:
        emit_json(info)
    else:
        click.echo(info.id)
