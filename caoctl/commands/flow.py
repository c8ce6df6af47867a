"""caoctl flow add|list|show|run|enable|disable|remove|history: scheduled runs (CAO's flow files)."""

from __future__ import annotations

import os
import time

import click

from caoctl.commands.install import read_profile_file
from caoctl.common import CommandFailed, connect, json_option
from caoctl.output import emit_json, table
from caod.protocol import FlowAddParams, FlowHistoryParams, FlowInfo, FlowListParams, FlowRef, FlowRun

RUN_TIMEOUT = 3700.0  # a run waits for its script (at most an hour) and the session's start


def when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts is not None else "-"


def _outcome(run: FlowRun | None) -> str:
    if run is None:
        return "never run"
    return run.outcome + (f" ({run.reason})" if run.reason and run.outcome in ("skipped", "failed") else "")


def _short(text: str | None, width: int = 60) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


@click.group("flow")
def command():
    """Scheduled runs: a Markdown flow file (CAO's format) launches a session on a cron schedule."""


@command.command("add")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--replace", is_flag=True, help="Replace a flow of the same name.")
@json_option
@click.pass_context
def add(ctx, file, replace, as_json):
    """Add the flow in FILE; its script is found beside it. Refused (one line) if its schedule,
    profile, provider or script cannot be used."""
    if file == "-":
        raise CommandFailed("give the flow's file (its script is found beside it), not stdin")
    text = read_profile_file(file)
    with connect(ctx) as c:
        info = c.call("flow.add", FlowAddParams(text=text, path=os.path.abspath(file), replace=replace))
    if as_json:
        emit_json(info)
    else:
        click.echo(f"added flow {info.name}: {info.schedule} ({info.agent_profile} on {info.provider}), "
                   f"next run {when(info.next_run)}")


@command.command("list")
@json_option
@click.pass_context
def list_flows(ctx, as_json):
    """The flows: schedule, next run, last run and its outcome, enabled."""
    with connect(ctx) as c:
        result = c.call("flow.list", FlowListParams())
    if as_json:
        emit_json(result.flows)
    elif not result.flows:
        click.echo("no flows")
    else:
        rows = [[f.name, f.schedule, when(f.next_run), when(f.last_run.started_at) if f.last_run else "-",
                 _short(_outcome(f.last_run), 50), "yes" if f.enabled else "no"] for f in result.flows]
        click.echo(table(["NAME", "SCHEDULE", "NEXT RUN", "LAST RUN", "OUTCOME", "ENABLED"], rows))


def _details(f: FlowInfo) -> str:
    lines = [f"name:      {f.name}", f"schedule:  {f.schedule} (local time)",
             f"profile:   {f.agent_profile} on {f.provider}", f"file:      {f.path}",
             f"folder:    {f.cwd}", f"session:   {f.session}"]
    if f.script:
        lines.append(f"script:    {f.script}")
    if f.misfire == "skip":
        lines.append("misfire:   skip (no catch-up run after downtime)")
    lines += [f"enabled:   {'yes' if f.enabled else 'no'}", f"next run:  {when(f.next_run)}",
              f"last run:  {when(f.last_run.started_at) if f.last_run else '-'} {_outcome(f.last_run)}"]
    if f.prompt is not None:
        lines += ["prompt:", *("  " + line for line in f.prompt.splitlines())]
    return "\n".join(lines)


@command.command("show")
@click.argument("name")
@json_option
@click.pass_context
def show(ctx, name, as_json):
    """One flow, with its prompt."""
    with connect(ctx) as c:
        info = c.call("flow.show", FlowRef(name=name))
    if as_json:
        emit_json(info)
    else:
        click.echo(_details(info))


def _run_line(run: FlowRun) -> str:
    if run.outcome == "launched":
        return f"flow {run.flow}: launched session {run.session} (supervisor {run.agent})"
    return f"flow {run.flow}: {_outcome(run)}"


@command.command("run")
@click.argument("name")
@json_option
@click.pass_context
def run(ctx, name, as_json):
    """Run the flow now (its script decides, as on schedule); the schedule is unchanged."""
    with connect(ctx) as c:
        result = c.call("flow.run", FlowRef(name=name), timeout=RUN_TIMEOUT)
    if as_json:
        emit_json(result)
        return
    if result.outcome == "failed":
        raise CommandFailed(_run_line(result))
    click.echo(_run_line(result))


def _toggle(method: str, verb: str, show_next: bool = False):
    @click.argument("name")
    @json_option
    @click.pass_context
    def toggle(ctx, name, as_json):
        with connect(ctx) as c:
            info = c.call(method, FlowRef(name=name))
        if as_json:
            emit_json(info)
        else:
            click.echo(f"{verb} flow {info.name}" + (f", next run {when(info.next_run)}" if show_next else ""))
    return toggle


command.command("enable", help="Schedule the flow again, from now on (missed slots are not run).")(
    _toggle("flow.enable", "enabled", show_next=True))
command.command("disable", help="Stop scheduling the flow (flow run still runs it).")(
    _toggle("flow.disable", "disabled"))
command.command("remove", help="Remove the flow and its history (a session it launched keeps running).")(
    _toggle("flow.remove", "removed"))


@command.command("history")
@click.argument("name")
@click.option("-n", "limit", type=click.IntRange(1, 10_000), default=20, show_default=True, help="Newest runs shown.")
@json_option
@click.pass_context
def history(ctx, name, limit, as_json):
    """The flow's runs, oldest first: when, why, outcome, the session and the answer or reason."""
    with connect(ctx) as c:
        runs = c.call("flow.history", FlowHistoryParams(name=name, limit=limit)).runs
    if as_json:
        emit_json(runs)
    elif not runs:
        click.echo(f"flow {name} has not run yet")
    else:
        rows = [[str(r.id), when(r.started_at), r.trigger, r.outcome, r.session or "-",
                 _short(r.answer if r.outcome == "completed" else r.reason)] for r in runs]
        click.echo(table(["RUN", "STARTED", "TRIGGER", "OUTCOME", "SESSION", "ANSWER / REASON"], rows))
