"""caoctl workflow list|show|run|resume|runs|show-run: fixed sequences of turns across CLIs."""

from __future__ import annotations

import os

import click

from caoctl.common import CommandFailed, connect, json_option
from caoctl.output import ago, emit_json, table
from caod.protocol import RunInfo, RunListParams, RunRef, RunWaitParams, WorkflowRef, WorkflowRunParams

WAIT_SLICE_S = 60.0  # one workflow.wait call; the daemon answers sooner when a step ends


@click.group("workflow")
def command():
    """Workflows: propose/critique/refine and other fixed sequences of turns across agents."""


@command.command("list")
@json_option
@click.pass_context
def list_workflows(ctx, as_json):
    """List the built-in workflows and your own (<caod home>/workflows/*.yaml)."""
    with connect(ctx) as c:
        result = c.call("workflow.list", timeout=30)
    if as_json:
        emit_json(result)
        return
    click.echo(table(["NAME", "STEPS", "PARTICIPANTS", "SOURCE", "DESCRIPTION"],
                     [[w.name, " → ".join(s.name for s in w.steps), str(w.participants), w.source, w.description]
                      for w in result.workflows]))
    for problem in result.problems:
        click.echo(f"caoctl: skipped {problem}", err=True)


@command.command("show")
@click.argument("name")
@json_option
@click.pass_context
def show(ctx, name, as_json):
    """Show a workflow's steps: role, participant and instruction template."""
    with connect(ctx) as c:
        w = c.call("workflow.show", WorkflowRef(name=name), timeout=30)
    if as_json:
        emit_json(w)
        return
    click.echo(f"{w.name}: {w.description} ({w.source}; {w.participants} participant(s))")
    for n, s in enumerate(w.steps, 1):
        click.echo(f"\n{n}. {s.name} · {s.role} · participant {s.participant}")
        click.echo("   " + s.instruction.replace("\n", "\n   "))


def _step_line(run: RunInfo, index: int) -> str:
    s = run.steps[index - 1]
    took = f" in {s.ended_at - s.started_at:.1f}s" if s.ended_at and s.started_at else ""
    who = f"{s.provider or '?'} agent {s.agent or '?'}"
    head = f"step {s.index}/{len(run.steps)} {s.name} ({s.role}, {who}): {s.status}"
    return head + took + (f"\n    → {s.handover}" if s.handover else "")


def _follow(c, run: RunInfo, as_json: bool) -> RunInfo:
    """Print each step as it ends, until the run is no longer running."""
    shown = sum(1 for s in run.steps if s.status == "done")
    while run.status == "running":
        run = c.call("workflow.wait", RunWaitParams(run=run.id, seen=shown, timeout=WAIT_SLICE_S),
                     timeout=WAIT_SLICE_S + 30)
        done = [s for s in run.steps if s.status == "done"]
        if not as_json:
            for s in done[shown:]:
                click.echo(_step_line(run, s.index))
        shown = len(done)
    return run


def _finish(run: RunInfo, as_json: bool) -> None:
    if as_json:
        emit_json(run)
    elif run.status == "completed":
        last = run.steps[-1]
        click.echo(f"run {run.id} completed" + (f"; handover files in {run.handover_dir}" if run.handover_dir else ""))
        click.echo(f"\n{last.output or ''}")
    if run.status not in ("completed", "running"):
        raise CommandFailed(f"run {run.id} {run.status}: {run.reason}; continue with `caoctl workflow resume {run.id}`")


@command.command("run")
@click.argument("name")
@click.option("--task", required=True, help="What the participants work on ({task} in the steps).")
@click.option("--with", "participants", required=True, metavar="A,B",
              help="Profiles or providers, comma-separated: the first is participant 0, and so on; "
                   "one runs every step.")
@click.option("--working-directory", "cwd", type=click.Path(file_okay=False), default=None,
              help="The agents' folder (default: this one); handover files go in its .caod/handover/.")
@click.option("--no-handover", is_flag=True, help="Write no handover files.")
@click.option("--step-timeout", type=float, default=1800.0, show_default=True, help="Seconds one step may take.")
@click.option("--no-wait", is_flag=True, help="Start the run and return its id.")
@json_option
@click.pass_context
def run(ctx, name, task, participants, cwd, no_handover, step_timeout, no_wait, as_json):
    """Run workflow NAME on a task, printing each step as it ends."""
    names = [p.strip() for p in participants.split(",") if p.strip()]
    if not names:
        raise click.BadParameter("name at least one profile or provider", param_hint="--with")
    params = WorkflowRunParams(workflow=name, task=task, participants=names, cwd=os.path.abspath(cwd or os.getcwd()),
                               handover=not no_handover, step_timeout=step_timeout)
    with connect(ctx) as c:
        started = c.call("workflow.run", params, timeout=60)
        if no_wait:
            if as_json:
                emit_json(started)
            else:
                click.echo(started.id)
            return
        if not as_json:
            click.echo(f"run {started.id}: {started.workflow} with {', '.join(started.participants)}")
        _finish(_follow(c, started, as_json), as_json)


@command.command("resume")
@click.argument("run_id", metavar="RUN")
@click.option("--no-wait", is_flag=True, help="Resume and return at once.")
@json_option
@click.pass_context
def resume(ctx, run_id, no_wait, as_json):
    """Continue a stopped or interrupted run from the step that did not end."""
    with connect(ctx) as c:
        started = c.call("workflow.resume", RunRef(run=run_id), timeout=60)
        if no_wait:
            emit_json(started) if as_json else click.echo(started.id)
            return
        if not as_json:
            first = next((s for s in started.steps if s.status != "done"), None)
            click.echo(f"run {started.id} resumed" + (f" at step {first.index} ({first.name})" if first else ""))
        _finish(_follow(c, started, as_json), as_json)


@command.command("runs")
@click.option("--limit", type=int, default=50, show_default=True)
@json_option
@click.pass_context
def runs(ctx, limit, as_json):
    """List workflow runs, newest first."""
    with connect(ctx) as c:
        result = c.call("workflow.runs", RunListParams(limit=limit), timeout=30)
    if as_json:
        emit_json(result)
        return
    if not result.runs:
        click.echo("no workflow runs")
        return
    click.echo(table(["RUN", "WORKFLOW", "STATUS", "STEPS", "WITH", "STARTED", "TASK"],
                     [[r.id, r.workflow, r.status, f"{sum(s.status == 'done' for s in r.steps)}/{len(r.steps)}",
                       ",".join(r.participants), ago(r.created_at) + " ago", r.task.splitlines()[0][:50]]
                      for r in result.runs]))


@command.command("show-run")
@click.argument("run_id", metavar="RUN")
@json_option
@click.pass_context
def show_run(ctx, run_id, as_json):
    """Show a run: each step's status, agent, input and output."""
    with connect(ctx) as c:
        r = c.call("workflow.get_run", RunRef(run=run_id), timeout=30)
    if as_json:
        emit_json(r)
        return
    click.echo(f"run {r.id}: {r.workflow} · {r.status}" + (f" · {r.reason}" if r.reason else ""))
    click.echo(f"task: {r.task}\nwith: {', '.join(r.participants)}\nfolder: {r.cwd}")
    for s in r.steps:
        click.echo(f"\n{_step_line(r, s.index)}" + (f"\n    error: {s.error}" if s.error else ""))
        if s.output:
            click.echo("    " + s.output.replace("\n", "\n    "))
