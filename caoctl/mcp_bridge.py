"""`caoctl mcp`: caod's orchestration tools as an MCP stdio server.

An agent's CLI starts this bridge from the MCP config caod wrote for it. The
CLI's model then calls the tools, and each tool is one JSON-RPC call to the
daemon (`orch.*`). The bridge knows who it works for only through its
environment:

- ``CAO_AGENT_TOKEN``: the agent's secret, sent in every call's params. The
  daemon derives the caller from it and never trusts an id from the caller.
- ``CAO_AGENT_ID``: the agent's id, used only in the server's instructions.
- ``CAOD_SOCKET``: where the daemon listens (``caoctl --socket`` wins).

Started without a token, the bridge still starts and lists its tools, and
every call fails with a clear error. Nothing but MCP goes to stdout (the SDK
also diverts fd 1 to stderr while it serves). A daemon error or a missing
daemon becomes a tool error (``isError``); the bridge keeps running.

``CAOCTL_MCP_PROGRESS_INTERVAL`` (seconds, default 5) sets how often
``handoff`` sends a progress notification while it waits for the worker.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path
from typing import Annotated, Any, Callable

import anyio
import anyio.to_thread
import msgspec
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field
from typing_extensions import NotRequired, TypedDict

from caod import paths
from caod.protocol import (
    AnswerParams,
    AssignParams,
    HandoffParams,
    Params,
    Result,
    SendMessageParams,
    TokenParams,
)
from caoctl import mcp_memory_tools, mcp_worktree_tools
from caoctl.client import Client, DaemonUnavailable, RpcFailure

TOKEN_ENV = "CAO_AGENT_TOKEN"
AGENT_ENV = "CAO_AGENT_ID"
PROGRESS_ENV = "CAOCTL_MCP_PROGRESS_INTERVAL"
DEFAULT_PROGRESS_INTERVAL = 5.0
NO_TOKEN = f"caoctl mcp was started outside a caod agent: no {TOKEN_ENV}"
# Seconds a call may take beyond its own timeout before the bridge gives up on
# the daemon; quick calls get a flat budget (assign waits for a spawn).
CALL_MARGIN = 30.0
QUICK_TIMEOUT = 60.0
ASSIGN_TIMEOUT = 180.0
WORKTREE_ARG = ("Run the worker in its own git worktree, on branch caod/<session>/<agent>, so parallel "
                "workers do not edit the same files; review and take its work with diff and merge")
PROVIDERS_ARG = ("Fan-out: start one worker per provider named here, all on the same task, each in its own "
                 "git worktree; a name may repeat. Not with count or provider")
COUNT_ARG = "Fan-out: start this many workers (1 to 8) on the same task, each in its own git worktree"

INSTRUCTIONS = """\
These tools connect you to caod, the orchestrator that runs you and the other
agents of your session (your team). Use them to delegate work to other agents:
- handoff: give a task to a new worker and wait for its answer (synchronous).
- assign: start a worker on a task and go on at once; it reports back to you
  later with send_message, and its report arrives as a message in your input.
  With providers or count it starts several workers on the same task, each in
  its own git worktree, to compare their answers (get_result for each).
- send_message: write to another agent of your session by its id.
- answer_user_prompt: answer a worker that is stuck at a permission prompt.
- get_result: a worker's latest answer, or wait for the turn it is on.
- end_worker: stop a worker you started, once you need it no more.
- list_agents: see the agents of your session, their status and last answers.
- diff, merge: review and take the changes of a worker started with
  use_worktree (it works in its own git worktree and branch).
"""

HANDOFF_DOC = """\
Delegate a task to a new worker agent and wait until it answers (synchronous).

caod starts a worker from the profile `agent_profile` (for example "developer"
or "reviewer") in your session, gives it `message` as its task, blocks until
the worker's turn is over, and returns its answer as `output`. Use it when you
need the result before you can go on. Write `message` so that it stands on its
own: the worker does not see your conversation. Progress notifications are
sent while the worker runs. `timeout` is in seconds (default 600);
`working_directory`, `provider` and `model` override the profile's defaults.
Returns {success, output, agent_id} (and `error` when the worker failed or
timed out; `agent_id` names the worker, which you can message later).

When the worker stops at a prompt (a permission or a choice), this returns at
once with {success: false, waiting: true, question, options, agent_id}: answer
it with answer_user_prompt, then collect its answer with get_result. Should
this call be cut short (a tool-call timeout), the worker's answer still
arrives later in your input, prefixed "[caod result of handoff to <id>]"."""

ASSIGN_DOC = """\
Start a worker agent on a task and return at once (asynchronous).

caod starts a worker from the profile `agent_profile` in your session and
gives it `message`; this call does not wait for the work. Use it to run tasks
in parallel. Tell the worker in `message` to report back to you with
send_message when it is done: its report will arrive later as a message in
your input, so do not poll for it. Returns {agent_id, session, agent_ids}.

To run the same task on several workers in parallel and compare their
answers, give `providers` (one worker per entry, e.g. ["claude_code",
"gemini_cli"]; a name may repeat) or `count` (that many workers of
`provider`, 1 to 8), not both. Each worker then runs in its own git worktree
(use_worktree is implied). `agent_ids` lists every worker in order
(`agent_id` is the first); collect each one's answer with get_result and
review its changes with diff. If one worker cannot start, none is left
running and the call fails with the cause."""

SEND_MESSAGE_DOC = """\
Send a message to another agent of your session, by its agent id.

Use it to report results to the agent that assigned you a task, or to give a
running worker more instructions. The message is delivered into the
receiver's input as soon as it is ready (it is queued while the receiver is
busy). Find ids with list_agents, or use the agent_id that handoff or assign
returned. Returns {message_id, status}."""

ANSWER_DOC = """\
Answer a worker agent that is waiting at a permission or choice prompt.

When list_agents shows a worker with status "waiting_user_answer", it is
stuck at a prompt (for example "Do you want to proceed?"). Send the answer it
expects, usually "1" or "y" to approve and "2" or "n" to decline. Returns the
worker's id, name and new status."""

LIST_AGENTS_DOC = """\
List the agents of your session (your team): id, name, profile, role, status
and provider of each, and for workers the agent that started them (parent)
and the first line of their last answer (last_answer). Use it to find agent
ids for send_message, and to see who is busy, idle, completed or waiting for
an answer (status "waiting_user_answer": use answer_user_prompt)."""


def _unwrap(text: str) -> str:
    """Paragraphs on one line each: descriptions are read by models, not in an 80-column editor."""
    return "\n\n".join(" ".join(p.split()) for p in text.split("\n\n"))


HANDOFF_DOC, ASSIGN_DOC, SEND_MESSAGE_DOC, ANSWER_DOC, LIST_AGENTS_DOC = map(
    _unwrap, (HANDOFF_DOC, ASSIGN_DOC, SEND_MESSAGE_DOC, ANSWER_DOC, LIST_AGENTS_DOC))


# ---------------------------------------------------------------- result shapes


class HandoffOut(TypedDict):
    success: bool
    output: str | None
    agent_id: str | None
    error: NotRequired[str]
    waiting: NotRequired[bool]
    question: NotRequired[str | None]
    options: NotRequired[list[str]]


class AssignOut(TypedDict):
    agent_id: str
    session: str
    agent_ids: list[str]


class MessageOut(TypedDict):
    message_id: int
    status: str


class AgentOut(TypedDict):
    id: str
    name: str | None
    profile: str | None
    role: str | None
    status: str
    provider: str
    parent: NotRequired[str | None]
    last_answer: NotRequired[str | None]


class AgentsOut(TypedDict):
    agents: list[AgentOut]


def _agent_out(info: Any) -> AgentOut:
    status = getattr(info.status, "value", info.status)
    out = AgentOut(id=info.id, name=info.name, profile=info.profile, role=info.role,
                   status=str(status), provider=info.provider, parent=info.parent)
    if hasattr(info, "last_answer"):  # the team list's
        out["last_answer"] = info.last_answer
    return out


# ---------------------------------------------------------------- daemon calls


class DaemonLink:
    """One JSON-RPC call per tool call, on a fresh connection, in a worker thread."""

    def __init__(self, socket_path: str | Path | None = None, token: str | None = None):
        self.socket = paths.socket_path(socket_path)
        self.token = token

    def require_token(self) -> str:
        if not self.token:
            raise ToolError(NO_TOKEN)
        return self.token

    async def call(self, method: str, params: Params, timeout: float) -> Result:
        """Call `method` without blocking the event loop; failures become ToolError."""
        holder: dict[str, Client] = {}
        lock = threading.Lock()
        cancelled = False

        def blocking() -> Result:
            client = Client(self.socket)
            with lock:
                if cancelled:
                    client.close()
                    raise ConnectionError("the call was cancelled")
                holder["client"] = client
            try:
                return client.call(method, params, timeout=timeout)
            finally:
                client.close()

        try:
            return await anyio.to_thread.run_sync(blocking, abandon_on_cancel=True)
        except anyio.get_cancelled_exc_class():
            # The MCP client cancelled the request: hang up, so the daemon sees it too.
            with lock:
                cancelled = True
                client = holder.get("client")
            if client is not None:
                _hang_up(client)
            raise
        except RpcFailure as e:
            raise ToolError(f"caod refused: {e.message}") from None
        except DaemonUnavailable as e:
            raise ToolError(f"caod is not running: {e}") from None
        except (TimeoutError, OSError) as e:
            what = "no answer from caod in time" if isinstance(e, TimeoutError) else f"lost the connection to caod: {e}"
            raise ToolError(what) from None
        except msgspec.DecodeError as e:   # a daemon of another version?
            raise ToolError(f"caod sent an answer this caoctl does not understand: {e}") from None


def _hang_up(client: Client) -> None:
    try:
        client.sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _progress_interval() -> float:
    try:
        value = float(os.environ.get(PROGRESS_ENV) or DEFAULT_PROGRESS_INTERVAL)
    except ValueError:
        return DEFAULT_PROGRESS_INTERVAL
    return value if value > 0 else DEFAULT_PROGRESS_INTERVAL


async def _with_progress(ctx: Context, timeout: float, interval: float, work: Callable[[], Any]) -> Any:
    """Await `work()` while reporting progress every `interval` seconds."""
    start = time.monotonic()
    outcome: dict[str, Any] = {}

    async def ticker() -> None:
        while True:
            await anyio.sleep(interval)
            elapsed = int(time.monotonic() - start)
            try:
                await ctx.report_progress(elapsed, timeout, f"waiting for the worker ({elapsed} s)")
            except Exception:  # a progress hiccup must never fail the call
                pass

    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker)
        try:
            outcome["value"] = await work()
        except Exception as e:  # re-raised below, outside the task group (no ExceptionGroup)
            outcome["error"] = e
        finally:
            tg.cancel_scope.cancel()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


# ---------------------------------------------------------------- the server


def build_server(socket_path: str | Path | None = None, token: str | None = None,
                 agent_id: str | None = None) -> MCPServer:
    """The MCP server with its tools; `token` None means "outside an agent"."""
    link = DaemonLink(socket_path, token)
    who = f"You are caod agent {agent_id}.\n" if agent_id else ""
    server = MCPServer("caod", instructions=who + INSTRUCTIONS, log_level="WARNING")

    @server.tool(description=HANDOFF_DOC, annotations=ToolAnnotations(title="Hand off a task and wait"))
    async def handoff(
        agent_profile: Annotated[str, Field(description="Profile of the worker to start, e.g. developer or reviewer")],
        message: Annotated[str, Field(description="The task for the worker, complete in itself")],
        ctx: Context,
        timeout: Annotated[int, Field(ge=1, description="Seconds to wait for the worker's answer")] = 600,
        working_directory: Annotated[str | None, Field(description="Folder the worker runs in")] = None,
        provider: Annotated[str | None, Field(description="CLI provider for the worker")] = None,
        model: Annotated[str | None, Field(description="Model for the worker")] = None,
        use_worktree: Annotated[bool, Field(description=WORKTREE_ARG)] = False,
    ) -> HandoffOut:
        params = HandoffParams(token=link.require_token(), agent_profile=agent_profile, message=message,
                               timeout=float(timeout), working_directory=working_directory,
                               provider=provider, model=model, use_worktree=use_worktree)
        res = await _with_progress(ctx, timeout, _progress_interval(),
                                   lambda: link.call("orch.handoff", params, timeout + CALL_MARGIN))
        out = HandoffOut(success=res.success, output=res.output, agent_id=res.agent_id)
        if res.error is not None:
            out["error"] = res.error
        if res.waiting:
            out.update(waiting=True, question=res.question, options=res.options)
        return out

    @server.tool(description=ASSIGN_DOC, annotations=ToolAnnotations(title="Assign a task (asynchronous)"))
    async def assign(
        agent_profile: Annotated[str, Field(description="Profile of the worker to start, e.g. developer or reviewer")],
        message: Annotated[str, Field(description="The task; ask the worker to report back with send_message")],
        working_directory: Annotated[str | None, Field(description="Folder the worker runs in")] = None,
        provider: Annotated[str | None, Field(description="CLI provider for the worker")] = None,
        model: Annotated[str | None, Field(description="Model for the worker")] = None,
        use_worktree: Annotated[bool, Field(description=WORKTREE_ARG)] = False,
        providers: Annotated[list[str] | None, Field(description=PROVIDERS_ARG)] = None,
        count: Annotated[int | None, Field(description=COUNT_ARG)] = None,
    ) -> AssignOut:
        params = AssignParams(token=link.require_token(), agent_profile=agent_profile, message=message,
                              working_directory=working_directory, provider=provider, model=model,
                              use_worktree=use_worktree, providers=providers, count=count)
        res = await link.call("orch.assign", params, ASSIGN_TIMEOUT)
        return AssignOut(agent_id=res.agent_id, session=res.session, agent_ids=res.agent_ids or [res.agent_id])

    @server.tool(description=SEND_MESSAGE_DOC, annotations=ToolAnnotations(title="Message an agent"))
    async def send_message(
        receiver_id: Annotated[str, Field(description="Id of the receiving agent")],
        message: Annotated[str, Field(description="The message text")],
    ) -> MessageOut:
        params = SendMessageParams(token=link.require_token(), receiver_id=receiver_id, message=message)
        res = await link.call("orch.send_message", params, QUICK_TIMEOUT)
        return MessageOut(message_id=res.id, status=res.status)

    @server.tool(description=ANSWER_DOC, annotations=ToolAnnotations(title="Answer a worker's prompt"))
    async def answer_user_prompt(
        agent_id: Annotated[str, Field(description="Id of the waiting worker")],
        answer: Annotated[str, Field(description='The answer to type, e.g. "1" (yes) or "2" (no)')],
    ) -> AgentOut:
        params = AnswerParams(token=link.require_token(), agent_id=agent_id, answer=answer)
        res = await link.call("orch.answer_user_prompt", params, QUICK_TIMEOUT)
        return _agent_out(res)

    @server.tool(description=LIST_AGENTS_DOC,
                 annotations=ToolAnnotations(title="List my team", read_only_hint=True))
    async def list_agents() -> AgentsOut:
        res = await link.call("orch.list_agents", TokenParams(token=link.require_token()), QUICK_TIMEOUT)
        return AgentsOut(agents=[_agent_out(a) for a in res.agents])

    mcp_worktree_tools.register(server, link)
    mcp_memory_tools.register(server, link)
    from caoctl import mcp_result_tools  # it imports the shapes above: after this module is loaded

    mcp_result_tools.register(server, link)
    return server


def serve(socket_path: str | Path | None = None) -> None:
    """Run the bridge on stdin/stdout until the CLI closes stdin."""
    env = os.environ
    server = build_server(socket_path, env.get(TOKEN_ENV) or None, env.get(AGENT_ENV) or None)
    server.run("stdio")
