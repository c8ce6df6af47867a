"""The dashboard's routes: the page, its JSON, its Server-Sent Event streams, its one action.

GET  /                         the page (static/index.html; the agent view is #/agent/ID)
GET  /static/...               its script and style
GET  /api/overview             sessions as trees, loose agents, who needs a person
GET  /api/agents/{id}/screen   an agent's rendered screen (agent.output)
GET  /api/stream/events        every daemon event, live (SSE)
GET  /api/stream/screen/{id}   an agent's screen each time its output changes (SSE)
POST /api/agents/{id}/message  queue a message for the agent (inbox.send), JSON {"text": ...}
POST /api/agents/{id}/answer   answer the prompt it waits at, typed in as `caoctl send` does, {"text": ...}

guard.Guard wraps all of it (token cookie, Host, Origin, security headers).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from importlib import resources
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from caoctl.errors import DaemonUnavailable, RpcFailure
from caoctl.web import overview
from caoctl.web.guard import Guard
from caoctl.web.link import CLOSING, DaemonLink, ScreenFeed
from caod.protocol import (
    AgentRef, ErrorCode, InboxListParams, InboxSendParams, ListParams, OutputParams, SendParams, SessionListParams,
)
from caod.status import Status

STATIC = {"app.js": "text/javascript", "style.css": "text/css"}
SCREEN_GAP = 0.05  # seconds between two screen pushes at most: a busy agent redraws far more often
MAX_MESSAGE = 64 * 1024


def _static(name: str) -> bytes:
    return resources.files("caoctl.web").joinpath("static", name).read_bytes()


def _sse(event: str, data: Any) -> bytes:
    """One Server-Sent Event; JSON data has no raw newline, so it is one data line."""
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def _error(e: Exception, status: int = 502) -> JSONResponse:
    """The daemon's one-line reason, as JSON; 404 for an agent it does not know."""
    if isinstance(e, RpcFailure):
        return JSONResponse({"error": e.message}, status_code=404 if e.code == ErrorCode.NO_SUCH_AGENT else status)
    return JSONResponse({"error": f"the daemon is not reachable: {e}"}, status_code=502)


async def _posted_text(request: Request) -> str | Response:
    """The "text" of a JSON body, or the response refusing it."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return JSONResponse({"error": "send JSON"}, status_code=415)  # what a plain cross-site form cannot send
    raw = await request.body()
    if len(raw) > MAX_MESSAGE:
        return JSONResponse({"error": "the text is too long"}, status_code=413)
    try:
        text = json.loads(raw)["text"]
    except (ValueError, KeyError, TypeError):
        text = None
    if not isinstance(text, str):
        return JSONResponse({"error": 'expected {"text": "..."}'}, status_code=400)
    return text


def create_app(link: DaemonLink, host: str, port: int, token: str | None) -> Guard:
    async def page(request: Request) -> Response:
        return Response(_static("index.html"), media_type="text/html; charset=utf-8")

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return Response("not found\n", status_code=404, media_type="text/plain")
        return Response(_static(name), media_type=STATIC[name] + "; charset=utf-8")

    async def overview_json(request: Request) -> Response:
        try:
            sessions = (await link.call("session.list", SessionListParams())).sessions
            agents = (await link.call("agent.list", ListParams())).agents
            pending = (await link.call("inbox.list", InboxListParams(pending_only=True, limit=10_000))).messages
        except (RpcFailure, DaemonUnavailable, ConnectionError) as e:
            return _error(e)
        inbox = Counter(m.receiver for m in pending)
        return JSONResponse(overview.build(sessions, agents, inbox, link.hub.stalled))

    async def screen_json(request: Request) -> Response:
        try:
            out = await link.call("agent.output", OutputParams(agent=request.path_params["agent"]))
        except (RpcFailure, DaemonUnavailable, ConnectionError) as e:
            return _error(e)
        return JSONResponse({"agent": out.agent, "status": out.status.value, "text": out.text})

    async def event_stream(request: Request) -> Response:
        q = link.hub.open()

        async def body():
            try:
                yield _sse("hello", {"daemon_gone": link.hub.daemon_gone})
                while not link.hub.closing:
                    e = await q.get()
                    if e is CLOSING:
                        return
                    if e is None:
                        yield _sse("daemon_gone", {})
                        return
                    yield _sse("caod", msgspec.to_builtins(e))
            finally:
                link.hub.close(q)

        return StreamingResponse(body(), media_type="text/event-stream")

    async def screen_stream(request: Request) -> Response:
        agent = request.path_params["agent"]
        try:
            first = await link.call("agent.output", OutputParams(agent=agent))
        except (RpcFailure, DaemonUnavailable, ConnectionError) as e:
            return _error(e)
        loop = asyncio.get_running_loop()
        feed = None
        if first.status.live:
            try:
                feed = await asyncio.to_thread(ScreenFeed, link.socket_path, first.agent, loop)
            except (RpcFailure, DaemonUnavailable, ConnectionError):
                feed = None  # it exited in between: the one screen is all there is

        if feed is not None:
            link.hub.feeds.add(feed)

        async def body():
            try:
                yield _sse("screen", {"agent": first.agent, "status": first.status.value, "text": first.text})
                while feed is not None and not feed.closed:
                    await feed.changed.wait()
                    feed.changed.clear()
                    if link.hub.closing:
                        return  # we stop (an agent that exits still gets its last screen sent, just below)
                    out = await link.call("agent.output", OutputParams(agent=first.agent))
                    yield _sse("screen", {"agent": out.agent, "status": out.status.value, "text": out.text})
                    await asyncio.sleep(SCREEN_GAP)
            finally:
                if feed is not None:
                    link.hub.feeds.discard(feed)
                    feed.stop()

        return StreamingResponse(body(), media_type="text/event-stream")

    async def send_message(request: Request) -> Response:
        text = await _posted_text(request)
        if isinstance(text, Response):
            return text
        try:
            msg = await link.call("inbox.send", InboxSendParams(receiver=request.path_params["agent"], message=text))
        except (RpcFailure, DaemonUnavailable, ConnectionError) as e:
            return _error(e, 400)
        return JSONResponse({"id": msg.id, "status": msg.status, "receiver": msg.receiver})

    async def answer_prompt(request: Request) -> Response:
        text = await _posted_text(request)
        if isinstance(text, Response):
            return text
        agent = request.path_params["agent"]
        try:
            info = await link.call("agent.get", AgentRef(agent=agent))
            if info.status is not Status.WAITING:  # an answer typed into a working agent would be a new task
                return JSONResponse({"error": f"agent {info.id} is not waiting for an answer ({info.status.value})"},
                                    status_code=409)
            result = await link.call("agent.send", SendParams(agent=info.id, text=text))
        except (RpcFailure, DaemonUnavailable, ConnectionError) as e:
            return _error(e, 400)
        return JSONResponse({"agent": result.agent.id, "status": result.agent.status.value})

    app = Starlette(routes=[
        Route("/", page),
        Route("/static/{name}", static),
        Route("/api/overview", overview_json),
        Route("/api/agents/{agent}/screen", screen_json),
        Route("/api/stream/events", event_stream),
        Route("/api/stream/screen/{agent}", screen_stream),
        Route("/api/agents/{agent}/message", send_message, methods=["POST"]),
        Route("/api/agents/{agent}/answer", answer_prompt, methods=["POST"]),
    ])
    return Guard(app, host, port, token)
