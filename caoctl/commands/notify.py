"""caoctl notify add|list|remove|test: where caod's events go (webhooks, the desktop, commands), and plugins."""

from __future__ import annotations

import os

import click

from caoctl.common import connect, json_option
from caoctl.output import ago, emit_json, table
from caod.notify.filters import DEFAULT
from caod.protocol import NotifyAddParams, NotifyRef, SinkInfo

EVENTS_HELP = ("Events to send, comma-separated or repeated: *, spawned, status, status:STATE, message, "
               "message:queued|delivered, notice, notice:KIND, stalled, session, session:launched|ended. "
               f"Default: {','.join(DEFAULT)}.")


@click.group("notify")
def command():
    """Send caod's events to people and programs: webhooks, desktop notifications, commands."""


def _add(ctx, params: NotifyAddParams, as_json: bool) -> None:
    with connect(ctx) as c:
        added = c.call("notify.add", params, timeout=30)
    if as_json:
        emit_json(added)
        return
    s = added.sink
    click.echo(f"added sink {s.id}: {s.kind} {s.target} (events: {','.join(s.events)})")
    if added.secret:
        click.echo(f"secret (shown this once; the receiver checks X-Caod-Signature-256 with it): {added.secret}")


@command.group("add")
def add():
    """Add a sink."""


@add.command("webhook")
@click.option("--url", required=True, help="Where to POST each event (http:// or https://).")
@click.option("--secret", help="HMAC-SHA256 key for the X-Caod-Signature-256 header "
                                "(default: a new random one, shown once).")
@click.option("--events", "events", multiple=True, help=EVENTS_HELP)
@click.option("--format", "fmt", type=click.Choice(["json", "slack", "discord"]), default="json", show_default=True,
              help="Body: the event as JSON, or a Slack / Discord incoming-webhook message.")
@json_option
@click.pass_context
def add_webhook(ctx, url, secret, events, fmt, as_json):
    """POST each event to URL, signed."""
    _add(ctx, NotifyAddParams(kind="webhook", url=url, secret=secret, events=list(events), format=fmt), as_json)


@add.command("desktop")
@click.option("--events", "events", multiple=True, help=EVENTS_HELP)
@json_option
@click.pass_context
def add_desktop(ctx, events, as_json):
    """Show each event as a desktop notification (notify-send, or osascript on macOS)."""
    _add(ctx, NotifyAddParams(kind="desktop", events=list(events)), as_json)


@add.command("command", context_settings={"ignore_unknown_options": True})
@click.option("--events", "events", multiple=True, help=EVENTS_HELP)
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Seconds before the program is killed.")
@json_option
@click.argument("argv", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_context
def add_command(ctx, events, timeout, as_json, argv):
    """Run a program for each event, the event as JSON on its stdin: notify add command -- PROG ARGS."""
    if "/" in argv[0]:  # the daemon runs it: a relative path means the caller's folder
        argv = (os.path.abspath(argv[0]), *argv[1:])
    _add(ctx, NotifyAddParams(kind="command", argv=list(argv), events=list(events), timeout=timeout), as_json)


def _health(s: SinkInfo) -> str:
    if s.failures:
        return f"failing ({s.failures} in a row, last {ago(s.last_error_at or 0)} ago): {s.last_error}"
    if s.last_sent_at:
        return f"ok (last sent {ago(s.last_sent_at)} ago)"
    return "ok (nothing sent yet)"


@command.command("list")
@json_option
@click.pass_context
def list_sinks(ctx, as_json):
    """List sinks (queued events, failures in a row, last error) and plugins."""
    with connect(ctx) as c:
        result = c.call("notify.list", timeout=30)
    if as_json:
        emit_json(result)
        return
    if not result.sinks:
        click.echo("no sinks")
    else:
        click.echo(table(["ID", "KIND", "TARGET", "EVENTS", "SECRET", "QUEUED", "STATE"],
                         [[str(s.id), s.kind + (f" ({s.format})" if s.format and s.format != "json" else ""),
                           s.target, ",".join(s.events), s.fingerprint or "-", str(s.queued), _health(s)]
                          for s in result.sinks]))
    for p in result.plugins:
        state = "loaded" if p.loaded else "not loaded"
        extra = f", {p.failures} failed calls" if p.failures else ""
        extra += f", {p.dropped} events dropped" if p.dropped else ""
        click.echo(f"plugin {p.name} ({p.value}): {state}{extra}" + (f": {p.error}" if p.error else ""))


@command.command("remove")
@click.argument("sink_id", type=int)
@click.pass_context
def remove(ctx, sink_id):
    """Remove a sink (and the events still queued for it)."""
    with connect(ctx) as c:
        c.call("notify.remove", NotifyRef(id=sink_id), timeout=30)
    click.echo(f"removed sink {sink_id}")


@command.command("test")
@click.argument("sink_id", type=int)
@json_option
@click.pass_context
def test(ctx, sink_id, as_json):
    """Send one `test` event to a sink (it also retries a failing sink now)."""
    with connect(ctx) as c:
        result = c.call("notify.test", NotifyRef(id=sink_id), timeout=30)
    if as_json:
        emit_json(result)
        return
    queued = result.sink.queued
    click.echo(f"test event queued for sink {sink_id} (delivery {result.outbox_id}; {queued} queued)"
               + ("" if not result.sink.failures else f"; it is failing: {result.sink.last_error}"))

