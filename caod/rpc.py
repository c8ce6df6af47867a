"""JSON-RPC 2.0 dispatch: parse a frame, validate params, call the handler.

Parsing is synchronous so the connection can see the method before it
decides how to run it (agent.attach takes over the connection).
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable

import msgspec

from caod.logs import log
from caod.protocol import METHODS, ErrorCode, ErrorObject, Params, Request, Response, Result

if TYPE_CHECKING:
    from caod.daemon import Daemon
    from caod.server import Connection


class RpcError(Exception):
    def __init__(self, code: int, message: str, data: Any = msgspec.UNSET):
        super().__init__(message)
        self.code = int(code)
        self.message = message
        self.data = data


@dataclass
class Context:
    daemon: "Daemon"
    conn: "Connection"
    # Run right after the reply is written (subscriptions, shutdown).
    after_reply: list[Callable[[], None]] = field(default_factory=list)
    # Set by agent.attach: takes over the connection after the reply.
    upgrade: Callable[..., Awaitable[None]] | None = None


Handler = Callable[[Context, Any], Awaitable[Result]]


@dataclass
class Call:
    """A parsed, validated request ready to run."""

    id: Any
    notification: bool
    method: str
    params: Params
    handler: Handler


def error_response(id_: Any, code: int, message: str, data: Any = msgspec.UNSET) -> Response:
    return Response(id=id_, error=ErrorObject(code=int(code), message=message, data=data))


class Dispatcher:
    def __init__(self, handlers: dict[str, Handler]):
        missing = set(METHODS) - set(handlers)
        extra = set(handlers) - set(METHODS)
        if missing or extra:
            raise RuntimeError(f"handlers out of step with the protocol: missing {missing}, extra {extra}")
        self.handlers = handlers

    def parse_object(self, obj: msgspec.Raw) -> Call | Response | None:
        """A call to run, an error to send, or None for a notification that
        cannot run (JSON-RPC 2.0 never replies to a notification)."""
        try:
            req = msgspec.json.decode(obj, type=Request)
        except msgspec.ValidationError as e:
            return error_response(_guess_id(obj), ErrorCode.INVALID_REQUEST, f"invalid request: {e}")
        except (msgspec.DecodeError, RecursionError) as e:  # well-formed, but a string is not UTF-8
            return error_response(_guess_id(obj), ErrorCode.PARSE_ERROR, f"parse error: {_decode_problem(e)}")
        notification = req.id is msgspec.UNSET
        rid = None if notification else req.id
        if req.jsonrpc != "2.0":
            return error_response(rid, ErrorCode.INVALID_REQUEST, 'invalid request: jsonrpc must be "2.0"')
        if req.method not in self.handlers:
            if notification:
                return None
            return error_response(rid, ErrorCode.METHOD_NOT_FOUND, f"unknown method: {req.method}")
        params_type = METHODS[req.method][0]
        raw = bytes(req.params)
        if raw.strip() == b"null":
            raw = b"{}"
        try:
            params = msgspec.json.decode(raw, type=params_type)
        except msgspec.ValidationError as e:
            if notification:
                return None
            return error_response(rid, ErrorCode.INVALID_PARAMS, f"invalid params for {req.method}: {e}")
        except (msgspec.DecodeError, RecursionError) as e:
            if notification:
                return None
            return error_response(rid, ErrorCode.PARSE_ERROR, f"parse error in params: {_decode_problem(e)}")
        return Call(rid, notification, req.method, params, self.handlers[req.method])

    async def run(self, call: Call, ctx: Context) -> Response | None:
        try:
            result = await call.handler(ctx, call.params)
            response = Response(id=call.id, result=result)
        except RpcError as e:
            response = error_response(call.id, e.code, e.message, e.data)
        except Exception as e:  # a handler bug must not take the connection down
            log.error("handler failed", method=call.method, error=repr(e), tb=traceback.format_exc())
            response = error_response(call.id, ErrorCode.INTERNAL_ERROR, f"internal error: {e!r}")
        return None if call.notification else response


def _decode_problem(e: Exception) -> str:
    return "JSON nested too deeply" if isinstance(e, RecursionError) else str(e)


def _guess_id(obj: msgspec.Raw) -> Any:
    try:
        value = msgspec.json.decode(obj)
    except (msgspec.DecodeError, RecursionError):
        return None
    if isinstance(value, dict) and isinstance(value.get("id"), (int, str)):
        return value["id"]
    return None
