"""A tiny MCP stdio server for the scripted agent's tests (run as a script).

Tools: echo(text) -> "ECHO:" + text; slow(text) sleeps 1 s (with progress)
then echoes; count() -> 1, 2, 3... (one counter per process, so a second
call answering 2 proves the agent kept the server running); pid() -> the
server's pid; getenv(name); crash() exits; fail(text) -> a tool error; handoff_like(message) -> the JSON
shape of caod's handoff result.
"""

from __future__ import annotations

import os

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("echo", log_level="WARNING")
calls = {"count": 0}


@server.tool(description="Echo the text back, prefixed with ECHO:")
def echo(text: str) -> str:
    return "ECHO:" + text


@server.tool(description="Sleep one second, then echo the text")
async def slow(text: str, ctx: Context) -> str:
    for i in range(4):
        await ctx.report_progress(i, 4, f"slow step {i}")
        await anyio.sleep(0.25)
    return "SLOW:" + text


@server.tool(description="How many times this tool was called in this server process")
def count() -> str:
    calls["count"] += 1
    return str(calls["count"])


@server.tool(description="The server's process id")
def pid() -> str:
    return str(os.getpid())


@server.tool(description="The value of an environment variable (empty when unset)")
def getenv(name: str) -> str:
    return os.environ.get(name, "")


@server.tool(description="Exit the server process at once")
def crash() -> str:
    os._exit(3)


@server.tool(description="Always fails")
def fail(text: str) -> str:
    raise ToolError("nope: " + text)


@server.tool(description="Answer like caod's handoff")
def handoff_like(message: str) -> dict:
    return {"success": True, "output": "did " + message, "agent_id": "w1"}


if __name__ == "__main__":
    server.run("stdio")
