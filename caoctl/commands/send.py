"""caoctl send: type a message into an agent, optionally wait for its answer."""

from __future__ import annotations

import sys

import click

from caoctl.client import RequestTooLarge, encode_request
from caoctl.common import EXIT_FAILED, EXIT_WAITING, CommandFailed, connect, json_option
from caoctl.complete import agent_ids
from caoctl.output import emit_json
from caod.protocol import MAX_FRAME, SendParams
from caod.status import Status


@click.command("send")
@click.argument("agent", shell_complete=agent_ids)
@click.argument("text")
@click.option("--wait", "-w", is_flag=True, help="Wait until the turn is over and print the answer.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=600, show_default=True)
@json_option
@click.pass_context
def command(ctx, agent, text, wait, timeout, as_json):
    """Send TEXT to AGENT as one pasted message ('-' reads it from stdin).

    Control characters are removed, so the text cannot act as keystrokes.
    With --wait: exit 0 and print the answer when the agent completes;
    exit 3 if it stops at a question, 1 on an error screen, 124 on timeout.
    """
    if text == "-":
        text = sys.stdin.read()
    params = SendParams(agent=agent, text=text, wait=wait, timeout=timeout)
    try:
        encode_request(0, "agent.send", params)  # refused here, before the daemon is even asked
    except RequestTooLarge as e:
        raise CommandFailed(f"the text is too long to send: {e.size:,} bytes encoded, and caod takes at most "
                            f"{MAX_FRAME:,} bytes ({MAX_FRAME >> 20} MiB) per request") from None
    with connect(ctx) as c:
        # The daemon enforces the timeout; give the socket a little longer.
        result = c.call("agent.send", params, timeout=timeout + 30 if wait else None)
    if as_json:
        emit_json(result)
    elif wait and result.answer is not None:
        click.echo(result.answer)
    status = result.ended
    if not wait or status is Status.COMPLETED:
        return
    if status is Status.WAITING:
        raise CommandFailed(f"agent {result.agent.id} is waiting for an answer (see: caoctl output {result.agent.id})", EXIT_WAITING)
    raise CommandFailed(f"agent {result.agent.id} ended the turn with status {status.value}", EXIT_FAILED)
