"""caoctl mcp: serve caod's orchestration tools over MCP on stdin/stdout."""

from __future__ import annotations

import click

from caoctl.common import settings


@click.command("mcp")
@click.pass_context
def command(ctx):
    """Run the MCP stdio bridge an agent's CLI starts (not for people).

    Tools: handoff, assign, send_message, answer_user_prompt, list_agents, get_result, end_worker.
    Reads CAO_AGENT_TOKEN, CAO_AGENT_ID and CAOD_SOCKET from the environment.
    stdout carries only MCP messages.
    """
    from caoctl import mcp_bridge  # the bridge and the protocol module: only this command needs them

    mcp_bridge.serve(settings(ctx).socket)
