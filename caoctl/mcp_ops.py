"""`caoctl mcp --ops`: an MCP stdio server for an agent outside caod (a person's own Claude
Code, Codex, Gemini CLI...) to launch, watch, steer and end caod teams.

It talks to the person's own daemon with the person's own rights: no agent token, the
socket's peer check is the only gate, exactly as `caoctl` itself. Every tool is one or
two JSON-RPC calls; a daemon's refusal comes back as a tool error of one line. The
daemon refuses system folders as working directories (as `caoctl launch` does).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from caod import __version__
from caod.protocol import (
    Empty, FlowListParams, FlowRef, LaunchParams, MemoryRecallParams, MemoryStoreParams, OutputParams, RunWaitParams,
    SessionListParams, SessionRef, SessionSendParams, ShutdownParams, WorkflowRunParams,
)
from caoctl.mcp_bridge import (
    AGENT_OUT, CALL_MARGIN, QUICK_TIMEOUT, DaemonLink, _agent_out, _progress_interval, _with_progress,
)
from caoctl.mcp_stdio import Call, StdioServer
from caoctl.mcp_tool import BOOLEAN, INTEGER, NUMBER, STRING, Arg, Shape, Tool, ToolError, array, nullable

OPT_STRING = nullable(STRING)
LAUNCH_TIMEOUT = 120.0

INSTRUCTIONS = """\
These tools drive caod, the local orchestrator of AI coding CLIs: each session is a team of
real CLI agents (a supervisor that delegates to workers), running on this machine under your
user. Launch a session for a piece of work with launch_session (always give the absolute
working_directory of the project), then follow it with session_status and session_output
instead of launching again; send follow-ups with send_to_session; end it with
shutdown_session when the work is done. list_profiles shows which supervisor profiles exist."""

SESSION_OUT = Shape("SessionOut", {"name": STRING, "cwd": STRING, "active": BOOLEAN, "supervisor": OPT_STRING,
                                   "created_at": NUMBER, "agents": array(AGENT_OUT.ref())})
SESSIONS_OUT = Shape("SessionsOut", {"sessions": array(SESSION_OUT.ref())})
LAUNCH_OUT = Shape("LaunchOut", {"session": STRING, "supervisor": STRING, "status": STRING, "cwd": STRING})
SEND_OUT = Shape("SendOut", {"session": STRING, "agent": STRING, "message_id": nullable(INTEGER),
                             "ended": OPT_STRING, "answer": OPT_STRING, "status": STRING})
OUTPUT_OUT = Shape("OutputOut", {"agent": STRING, "status": STRING, "last_answer": OPT_STRING, "screen": OPT_STRING})
SHUTDOWN_OUT = Shape("ShutdownOut", {"sessions": array(STRING), "agents_stopped": INTEGER})
PROFILE_OUT = Shape("ProfileOut", {"name": STRING, "description": STRING, "role": STRING,
                                   "provider": OPT_STRING, "source": STRING})
PROFILES_OUT = Shape("ProfilesOut", {"profiles": array(PROFILE_OUT.ref())})
FLOW_OUT = Shape("FlowOut", {"name": STRING, "schedule": STRING, "agent_profile": STRING, "enabled": BOOLEAN,
                             "next_run": nullable(NUMBER), "last_outcome": OPT_STRING})
FLOWS_OUT = Shape("FlowsOut", {"flows": array(FLOW_OUT.ref())})
FLOW_RUN_OUT = Shape("FlowRunOut", {"flow": STRING, "outcome": STRING, "session": OPT_STRING, "reason": OPT_STRING})
STEP_OUT = Shape("StepOut", {"name": STRING, "provider": OPT_STRING, "status": STRING, "output": OPT_STRING})
RUN_OUT = Shape("RunOut", {"run": STRING, "workflow": STRING, "status": STRING, "reason": OPT_STRING,
                           "handover_dir": OPT_STRING, "steps": array(STEP_OUT.ref())})
MEMORY_OUT = Shape("MemoryOut", {"key": STRING, "scope": STRING, "content": STRING})
MEMORIES_OUT = Shape("MemoriesOut", {"memories": array(MEMORY_OUT.ref())})


def _folder(path: str) -> str:
    """An absolute folder: an agent outside caod may pass `~/x`; a relative path would be
    relative to wherever its CLI started this server, which it cannot know."""
    expanded = os.path.expanduser(path)
    if not os.path.isabs(expanded):
        raise ToolError(f"working_directory must be an absolute path (got {path!r})")
    return expanded


def _session_out(s: Any) -> dict:
    return {"name": s.name, "cwd": s.cwd, "active": s.active, "supervisor": s.supervisor, "created_at": s.created_at,
            "agents": [_agent_out(a) for a in s.agents]}


def ops_tools(link: DaemonLink) -> list[Tool]:
    def launch_session(call: Call, agent_profile, task, working_directory, provider, session_name, yolo):
        params = LaunchParams(profile=agent_profile, task=task, cwd=_folder(working_directory), provider=provider,
                              session=session_name, yolo=yolo)
        res = link.call("session.launch", params, LAUNCH_TIMEOUT, call)
        return {"session": res.session.name, "supervisor": res.supervisor.id,
                "status": str(getattr(res.supervisor.status, "value", res.supervisor.status)), "cwd": res.session.cwd}

    def list_sessions(call: Call, include_ended):
        res = link.call("session.list", SessionListParams(all=include_ended), QUICK_TIMEOUT, call)
        return {"sessions": [_session_out(s) for s in res.sessions]}

    def session_status(call: Call, session, workers):
        out = _session_out(link.call("session.get", SessionRef(session=session), QUICK_TIMEOUT, call))
        if not workers:
            out["agents"] = [a for a in out["agents"] if a["id"] == out["supervisor"]]
        return out

    def send_to_session(call: Call, session, message, wait, timeout, agent):
        params = SessionSendParams(session=session, text=message, agent=agent, wait=wait, timeout=float(timeout))
        budget = (timeout if wait else 0) + CALL_MARGIN
        res = _with_progress(call, timeout, _progress_interval(),
                             lambda: link.call("session.send", params, budget, call))
        return {"session": session, "agent": res.agent.id, "message_id": res.message,
                "ended": getattr(res.ended, "value", res.ended), "answer": res.answer,
                "status": str(getattr(res.agent.status, "value", res.agent.status))}

    def session_output(call: Call, session, agent):
        if agent is None:
            agent = link.call("session.get", SessionRef(session=session), QUICK_TIMEOUT, call).supervisor
            if agent is None:
                raise ToolError(f"session {session} has no supervisor")
        last = link.call("agent.output", OutputParams(agent=agent, mode="last"), QUICK_TIMEOUT, call)
        screen = link.call("agent.output", OutputParams(agent=agent), QUICK_TIMEOUT, call)
        return {"agent": last.agent, "status": str(getattr(screen.status, "value", screen.status)),
                "last_answer": last.text, "screen": screen.text}

    def shutdown_session(call: Call, session):
        res = link.call("session.shutdown", ShutdownParams(session=session), LAUNCH_TIMEOUT, call)
        return {"sessions": list(res.sessions), "agents_stopped": res.agents}

    def list_profiles(call: Call):
        res = link.call("profile.list", Empty(), QUICK_TIMEOUT, call)
        return {"profiles": [{"name": p.name, "description": p.description, "role": p.role, "provider": p.provider,
                              "source": p.source} for p in res.profiles]}

    def list_flows(call: Call):
        res = link.call("flow.list", FlowListParams(), QUICK_TIMEOUT, call)
        return {"flows": [{"name": f.name, "schedule": f.schedule, "agent_profile": f.agent_profile,
                           "enabled": f.enabled, "next_run": f.next_run,
                           "last_outcome": f.last_run.outcome if f.last_run else None} for f in res.flows]}

    def run_flow(call: Call, name):
        run = link.call("flow.run", FlowRef(name=name), LAUNCH_TIMEOUT, call)
        return {"flow": run.flow, "outcome": run.outcome, "session": run.session, "reason": run.reason}

    def run_workflow(call: Call, workflow, task, participants, working_directory, wait, timeout):
        params = WorkflowRunParams(workflow=workflow, task=task, participants=list(participants),
                                   cwd=_folder(working_directory))
        run = link.call("workflow.run", params, LAUNCH_TIMEOUT, call)

        def until_done():
            nonlocal run
            deadline = time.monotonic() + timeout
            while run.status == "running" and time.monotonic() < deadline:
                seen = sum(1 for s in run.steps if s.status in ("done", "failed"))
                left = max(1.0, min(60.0, deadline - time.monotonic()))
                run = link.call("workflow.wait", RunWaitParams(run=run.id, seen=seen, timeout=left), left + CALL_MARGIN,
                                call)
            return run
        if wait:
            run = _with_progress(call, timeout, _progress_interval(), until_done)
        return {"run": run.id, "workflow": run.workflow, "status": run.status, "reason": run.reason,
                "handover_dir": run.handover_dir,
                "steps": [{"name": s.name, "provider": s.provider, "status": s.status, "output": s.output}
                          for s in run.steps]}

    def memory_recall(call: Call, query, working_directory, limit):
        params = MemoryRecallParams(query=query, project=_folder(working_directory) if working_directory else None,
                                    limit=limit, all=working_directory is None)
        res = link.call("memory.recall", params, QUICK_TIMEOUT, call)
        return {"memories": [{"key": m.key, "scope": m.scope, "content": m.content} for m in res.memories]}

    def memory_store(call: Call, content, working_directory, key, scope):
        params = MemoryStoreParams(content=content, project=_folder(working_directory), key=key, scope=scope)
        m = link.call("memory.store", params, QUICK_TIMEOUT, call)
        return {"key": m.key, "scope": m.scope, "content": m.content}

    session = Arg("session", STRING, "The session's name")
    return [
        Tool("launch_session", "Start a caod session: its supervisor from `agent_profile` (see list_profiles), "
             "working in `working_directory` (an absolute path), with `task` as its first message. Returns at "
             "once with the session's name; follow it with session_status and session_output.",
             "Launch a team", [
                 Arg("agent_profile", STRING, "The supervisor's profile, e.g. code_supervisor"),
                 Arg("task", STRING, "The task, complete in itself"),
                 Arg("working_directory", STRING, "Absolute path of the project folder the team works in"),
                 Arg("provider", OPT_STRING, "CLI for the supervisor (default: the profile's)", None),
                 Arg("session_name", OPT_STRING, "A name for the session (default: made up)", None),
                 Arg("yolo", BOOLEAN, "Start the CLIs in their skip-permission-prompts mode", False),
             ], LAUNCH_OUT, launch_session),
        Tool("list_sessions", "List caod's sessions with their agents and statuses.", "List sessions", [
            Arg("include_ended", BOOLEAN, "Also sessions that have ended", False),
        ], SESSIONS_OUT, list_sessions, read_only=True, nested=[SESSION_OUT, AGENT_OUT]),
        Tool("session_status", "One session: its supervisor and (with `workers`) its workers, each with its "
             "status (waiting_user_answer means it stopped at a prompt) and the first line of its last answer.",
             "Session status", [session, Arg("workers", BOOLEAN, "Include the workers", True)],
             SESSION_OUT, session_status, read_only=True, nested=[AGENT_OUT]),
        Tool("send_to_session", "Send `message` to the session's supervisor (or `agent`). It is queued until the "
             "agent is ready. With `wait`, waits up to `timeout` seconds for the turn it starts and returns its "
             "answer.", "Message a session", [
                 session, Arg("message", STRING, "The message"),
                 Arg("wait", BOOLEAN, "Wait for the answer", False),
                 Arg("timeout", INTEGER, "Seconds to wait at most", 600, minimum=1),
                 Arg("agent", OPT_STRING, "An agent of the session instead of its supervisor", None),
             ], SEND_OUT, send_to_session),
        Tool("session_output", "The last answer and the current screen of the session's supervisor (or `agent`).",
             "Session output", [session, Arg("agent", OPT_STRING, "An agent of the session", None)],
             OUTPUT_OUT, session_output, read_only=True),
        Tool("shutdown_session", "End a session: stop its agents (their worktrees and results stay).",
             "End a session", [session], SHUTDOWN_OUT, shutdown_session),
        Tool("list_profiles", "The agent profiles a session or worker can start from.", "List profiles", [],
             PROFILES_OUT, list_profiles, read_only=True, nested=[PROFILE_OUT]),
        Tool("list_flows", "Scheduled flows: name, schedule, next run and the last run's outcome.", "List flows", [],
             FLOWS_OUT, list_flows, read_only=True, nested=[FLOW_OUT]),
        Tool("run_flow", "Run a scheduled flow now (its session is launched unless its last run is still busy).",
             "Run a flow", [Arg("name", STRING, "The flow's name")], FLOW_RUN_OUT, run_flow),
        Tool("run_workflow", "Run a workflow (collaborative, adversarial, troubleshoot, handshake, or one of the "
             "user's): a fixed sequence of turns across `participants` (providers or profiles; the first proposes, "
             "the second critiques...). With `wait`, returns when it ends (each step's output); else at once with "
             "its run id. Each step is also written as a handover file under working_directory/.caod/handover.",
             "Run a workflow", [
                 Arg("workflow", STRING, "The workflow's name, e.g. collaborative"),
                 Arg("task", STRING, "The task, complete in itself"),
                 Arg("participants", array(STRING), "Providers or profiles, e.g. [\"gemini_cli\", \"qwen_code\"]"),
                 Arg("working_directory", STRING, "Absolute path of the project folder"),
                 Arg("wait", BOOLEAN, "Wait for the run to end", True),
                 Arg("timeout", INTEGER, "Seconds to wait at most", 1800, minimum=1),
             ], RUN_OUT, run_workflow, nested=[STEP_OUT]),
        Tool("memory_recall", "Notes caod's agents and people kept: those of the project at `working_directory` "
             "(and global ones), or every note without it.", "Find notes", [
                 Arg("query", STRING, "Words to look for"),
                 Arg("working_directory", OPT_STRING, "Absolute path of a project", None),
                 Arg("limit", INTEGER, "How many at most (1 to 100)", 5, minimum=1),
             ], MEMORIES_OUT, memory_recall, read_only=True, nested=[MEMORY_OUT]),
        Tool("memory_store", "Keep a note for caod's agents: for the project at `working_directory` (scope "
             "project), or for every agent (scope global).", "Keep a note", [
                 Arg("content", STRING, "The note"),
                 Arg("working_directory", STRING, "Absolute path of the project"),
                 Arg("key", OPT_STRING, "A short name for it (the same key replaces it)", None),
                 Arg("scope", {"enum": ["project", "global"], "type": "string"}, "Who sees it", "project"),
             ], MEMORY_OUT, memory_store),
    ]


def build_ops_server(socket_path: str | Path | None = None) -> StdioServer:
    return StdioServer("caod-ops", __version__, INSTRUCTIONS, ops_tools(DaemonLink(socket_path, None)))


def serve(socket_path: str | Path | None = None) -> None:
    build_ops_server(socket_path).serve()
