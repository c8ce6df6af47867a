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
every call fails with a clear error. Nothing but MCP goes to stdout (fd 1 is
diverted to stderr while it serves). The protocol side is caoctl.mcp_stdio. A daemon error or a missing
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
from typing import Any, Callable

import msgspec

from caod import __version__, paths
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
from caoctl.mcp_stdio import Call, StdioServer
from caoctl.mcp_tool import BOOLEAN, INTEGER, STRING, Arg, Shape, Tool, ToolError, array, nullable

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

OPT_STRING = nullable(STRING)
HANDOFF_OUT = Shape("HandoffOut", {"success": BOOLEAN, "output": OPT_STRING, "agent_id": OPT_STRING,
                                   "error": STRING, "waiting": BOOLEAN, "question": OPT_STRING,
                                   "options": array(STRING)},
                    optional=frozenset({"error", "waiting", "question", "options"}))
ASSIGN_OUT = Shape("AssignOut", {"agent_id": STRING, "session": STRING, "agent_ids": array(STRING)})
MESSAGE_OUT = Shape("MessageOut", {"message_id": INTEGER, "status": STRING})
AGENT_OUT = Shape("AgentOut", {"id": STRING, "name": OPT_STRING, "profile": OPT_STRING, "role": OPT_STRING,
                               "status": STRING, "provider": STRING, "parent": OPT_STRING,
                               "last_answer": OPT_STRING},
                  optional=frozenset({"parent", "last_answer"}))
AGENTS_OUT = Shape("AgentsOut", {"agents": array(AGENT_OUT.ref())})
PROFILE_ARG = Arg("agent_profile", STRING, "Profile of the worker to start, e.g. developer or reviewer")
WORKER_OPTIONS = [Arg("working_directory", OPT_STRING, "Folder the worker runs in", None),
                  Arg("provider", OPT_STRING, "CLI provider for the worker", None),
                  Arg("model", OPT_STRING, "Model for the worker", None),
                  Arg("use_worktree", BOOLEAN, WORKTREE_ARG, False)]


def _agent_out(info: Any) -> dict:
    status = getattr(info.status, "value", info.status)
    out = {"id": info.id, "name": info.name, "profile": info.profile, "role": info.role,
           "status": str(status), "provider": info.provider, "parent": info.parent}
    if hasattr(info, "last_answer"):  # the team list's
        out["last_answer"] = info.last_answer
    return out


# ---------------------------------------------------------------- daemon calls


class DaemonLink:
    """One JSON-RPC call per tool call, on a fresh connection, in the call's own thread."""

    def __init__(self, socket_path: str | Path | None = None, token: str | None = None):
        self.socket = paths.socket_path(socket_path)
        self.token = token

    def require_token(self) -> str:
        if not self.token:
            raise ToolError(NO_TOKEN)
        return self.token

    def call(self, method: str, params: Params, timeout: float, call: Call | None = None) -> Result:
        """Call `method`; failures become ToolError. Should the MCP client cancel `call`,
        the connection is hung up, so the daemon sees it too."""
        try:
            with Client(self.socket) as client:
                if call is not None:
                    call.on_cancel(lambda: _hang_up(client))
                try:
                    return client.call(method, params, timeout=timeout)
                finally:
                    if call is not None:
                        call.on_cancel(None)
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


def _with_progress(call: Call, timeout: float, interval: float, work: Callable[[], Any]) -> Any:
    """Return `work()` while reporting progress every `interval` seconds (a timer thread)."""
    start = time.monotonic()
    done = threading.Event()

    def ticker() -> None:
        while not done.wait(interval):
            elapsed = int(time.monotonic() - start)
            call.report_progress(elapsed, timeout, f"waiting for the worker ({elapsed} s)")

    threading.Thread(target=ticker, name="mcp-progress", daemon=True).start()
    try:
        return work()
    finally:
        done.set()


# ---------------------------------------------------------------- the tools


def orchestration_tools(link: DaemonLink) -> list[Tool]:
    """handoff, assign, send_message, answer_user_prompt and list_agents, each one orch.* call."""

    def handoff(call: Call, agent_profile, message, timeout, working_directory, provider, model, use_worktree):
        params = HandoffParams(token=link.require_token(), agent_profile=agent_profile, message=message,
                               timeout=float(timeout), working_directory=working_directory,
                               provider=provider, model=model, use_worktree=use_worktree)
        res = _with_progress(call, timeout, _progress_interval(),
                             lambda: link.call("orch.handoff", params, timeout + CALL_MARGIN, call))
        out = {"success": res.success, "output": res.output, "agent_id": res.agent_id}
        if res.error is not None:
            out["error"] = res.error
        if res.waiting:
            out.update(waiting=True, question=res.question, options=res.options)
        return out

    def assign(call: Call, agent_profile, message, working_directory, provider, model, use_worktree,
               providers, count):
        params = AssignParams(token=link.require_token(), agent_profile=agent_profile, message=message,
                              working_directory=working_directory, provider=provider, model=model,
                              use_worktree=use_worktree, providers=providers, count=count)
        res = link.call("orch.assign", params, ASSIGN_TIMEOUT, call)
        return {"agent_id": res.agent_id, "session": res.session, "agent_ids": res.agent_ids or [res.agent_id]}

    def send_message(call: Call, receiver_id, message):
        params = SendMessageParams(token=link.require_token(), receiver_id=receiver_id, message=message)
        res = link.call("orch.send_message", params, QUICK_TIMEOUT, call)
        return {"message_id": res.id, "status": res.status}

    def answer_user_prompt(call: Call, agent_id, answer):
        params = AnswerParams(token=link.require_token(), agent_id=agent_id, answer=answer)
        return _agent_out(link.call("orch.answer_user_prompt", params, QUICK_TIMEOUT, call))

    def list_agents(call: Call):
        res = link.call("orch.list_agents", TokenParams(token=link.require_token()), QUICK_TIMEOUT, call)
        return {"agents": [_agent_out(a) for a in res.agents]}

    return [
        Tool("handoff", HANDOFF_DOC, "Hand off a task and wait", [
            PROFILE_ARG, Arg("message", STRING, "The task for the worker, complete in itself"),
            Arg("timeout", INTEGER, "Seconds to wait for the worker's answer", 600, minimum=1), *WORKER_OPTIONS,
        ], HANDOFF_OUT, handoff),
        Tool("assign", ASSIGN_DOC, "Assign a task (asynchronous)", [
            PROFILE_ARG, Arg("message", STRING, "The task; ask the worker to report back with send_message"),
            *WORKER_OPTIONS, Arg("providers", nullable(array(STRING)), PROVIDERS_ARG, None),
            Arg("count", nullable(INTEGER), COUNT_ARG, None),
        ], ASSIGN_OUT, assign),
        Tool("send_message", SEND_MESSAGE_DOC, "Message an agent", [
            Arg("receiver_id", STRING, "Id of the receiving agent"), Arg("message", STRING, "The message text"),
        ], MESSAGE_OUT, send_message),
        Tool("answer_user_prompt", ANSWER_DOC, "Answer a worker's prompt", [
            Arg("agent_id", STRING, "Id of the waiting worker"),
            Arg("answer", STRING, 'The answer to type, e.g. "1" (yes) or "2" (no)'),
        ], AGENT_OUT, answer_user_prompt),
        Tool("list_agents", LIST_AGENTS_DOC, "List my team", [], AGENTS_OUT, list_agents, read_only=True,
             nested=[AGENT_OUT]),
    ]


# ---------------------------------------------------------------- the server


def build_server(socket_path: str | Path | None = None, token: str | None = None,
                 agent_id: str | None = None) -> StdioServer:
    """The MCP server with its tools; `token` None means "outside an agent"."""
    from caoctl import mcp_result_tools  # it imports the shapes above: after this module is loaded

    link = DaemonLink(socket_path, token)
    who = f"You are caod agent {agent_id}.\n" if agent_id else ""
    tools = [*orchestration_tools(link), *mcp_worktree_tools.tools(link), *mcp_result_tools.tools(link),
             *mcp_memory_tools.tools(link)]
    return StdioServer("caod", __version__, who + INSTRUCTIONS, tools)


def serve(socket_path: str | Path | None = None) -> None:
    """Run the bridge on stdin/stdout until the CLI closes stdin."""
    env = os.environ
    build_server(socket_path, env.get(TOKEN_ENV) or None, env.get(AGENT_ENV) or None).serve()
