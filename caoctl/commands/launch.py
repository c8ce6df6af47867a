"""caoctl launch: start a session with a supervisor from a profile (cao-compatible flags)."""

from __future__ import annotations

import os

import click

from caoctl.commands.attach import run_attach
from caoctl.commands.daemon import start_daemon
from caoctl.common import connect, env_pairs, json_option, settings
from caoctl.complete import profile_names, provider_names
from caoctl.output import emit_json
from caod.protocol import LaunchParams


@click.command("launch")
@click.option("--agents", "profile", required=True, metavar="PROFILE", shell_complete=profile_names,
              help="Profile of the supervisor (e.g. code_supervisor).")
@click.option("--provider", shell_complete=provider_names, help="Provider for the supervisor (default: the profile's).")
@click.option("--session-name", help="Session name (default: generated).")
@click.option("--working-directory", type=click.Path(file_okay=False), help="Folder the team works in (default: here).")
@click.option("--model", help="Model for the supervisor (default: the profile's).")
@click.option("--headless", is_flag=True, help="Do not attach; print the session and return.")
@click.option("--yolo", is_flag=True, help="Let the agents skip their permission prompts.")
@click.option("--isolate-home", is_flag=True,
              help="Give every agent of the session a private HOME with its provider's config files.")
@click.option("--handover/--no-handover", default=False,
              help="Write each handoff, assign and message as a Markdown file in .caod/handover/SESSION/ "
                   "(default: off).")
@click.option("--env", "-e", multiple=True, callback=env_pairs, metavar="K=V",
              help="Environment for every agent of the session (repeatable).")
@json_option
@click.argument("task", required=False)
@click.pass_context
def command(ctx, profile, provider, session_name, working_directory, model, headless, yolo, isolate_home, handover,
            env, as_json, task):
    """Start a session: its supervisor from PROFILE, then TASK (queued until it is ready).

    Starts a daemon first if none runs (as `caoctl daemon start` does; it
    keeps running). Without --headless (and --json), attaches to the
    supervisor; Ctrl-] detaches.
    """
    cwd = os.path.abspath(working_directory) if working_directory else os.getcwd()
    st, started = start_daemon(settings(ctx).socket, None, 15)
    if started:
        click.echo(f"no daemon was running: started caod {st.version} (pid {st.pid}) on {st.socket}", err=True)
    with connect(ctx) as c:
        result = c.call("session.launch", LaunchParams(
            profile=profile, provider=provider, session=session_name, cwd=cwd, model=model, yolo=yolo, task=task,
            env=env, isolate_home=isolate_home, handover=handover))
    if as_json:
        emit_json(result)
        return
    sup = result.supervisor
    click.echo(f"session {result.session.name}: supervisor {sup.id} ({sup.profile}, {sup.provider}) in {result.session.cwd}")
    if task:
        click.echo("task queued: it is delivered as soon as the supervisor is ready")
    if headless:
        click.echo(f"watch it: caoctl session status {result.session.name} --workers; caoctl attach {sup.id}")
        return
    run_attach(ctx, sup.id)
