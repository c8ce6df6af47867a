"""caoctl mcp: serve caod's tools over MCP on stdin/stdout (an agent's bridge, or --ops)."""

from __future__ import annotations

import click

from caoctl.common import settings


@click.command("mcp")
@click.option("--ops", is_flag=True,
              help="The ops server, for your own agent outside caod: launch, watch, steer and end teams.")
@click.pass_context
def command(ctx, ops):
    """Run the MCP stdio bridge an agent's CLI starts (not for people).

    Tools: handoff, assign, send_message, answer_user_prompt, list_agents, get_result, end_worker,
    diff, merge, memory_store, memory_recall, memory_forget. Reads CAO_AGENT_TOKEN, CAO_AGENT_ID
    and CAOD_SOCKET from the environment. stdout carries only MCP messages.

    With --ops: launch_session, list_sessions, session_status, send_to_session, session_output,
    shutdown_session, list_profiles, list_flows, run_flow, memory_recall, memory_store, with
    your own rights (register it with `caoctl install-mcp --ops CLI`).
    """
    if ops:
        from caoctl import mcp_ops

        mcp_ops.serve(settings(ctx).socket)
        return
    from caoctl import mcp_bridge  # the bridge and the protocol module: only this command needs them

    mcp_bridge.serve(settings(ctx).socket)
