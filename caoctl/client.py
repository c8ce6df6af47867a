"""A small synchronous JSON-RPC client for caod's Unix socket.

It uses the same protocol module as the daemon, so params are encoded and
results decoded with the very Structs the daemon validates against.
"""

from __future__ import annotations

import socket
from collections import deque
from pathlib import Path
from typing import Any, Iterator

import msgspec

from caod import paths
from caoctl.errors import DaemonUnavailable, RpcFailure  # noqa: F401 (raised here; defined light for cli.main)
from caod.protocol import (
    EVENT_NOTIFICATION, MAX_FRAME, METHODS, ErrorCode, ErrorObject, Event, Params, Result, encode_line,
)


class RequestTooLarge(RpcFailure):
    """A request longer than the daemon reads (MAX_FRAME); refused before sending."""

    def __init__(self, method: str, size: int):
        super().__init__(ErrorCode.INVALID_REQUEST,
                         f"the {method} request is too large: {size:,} bytes encoded, and caod reads "
                         f"at most {MAX_FRAME:,} bytes ({MAX_FRAME >> 20} MiB) per request")
        self.size = size


def encode_request(rid: int, method: str, params: Params | dict | None = None) -> bytes:
    """One request line; RequestTooLarge if the daemon would refuse its size."""
    request: dict[str, Any] = {"jsonrpc": "2.0", "id": rid, "method": method}
    if params is not None:
        request["params"] = params
    frame = encode_line(request)
    if len(frame) - 1 > MAX_FRAME:  # the newline does not count
        raise RequestTooLarge(method, len(frame) - 1)
    return frame


def _failure(err: ErrorObject) -> RpcFailure:
    return RpcFailure(err.code, err.message, None if err.data is msgspec.UNSET else err.data)


class _Incoming(msgspec.Struct):
    """Either a response (id + result/error) or a notification (method + params)."""

    id: Any = None
    result: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    error: ErrorObject | msgspec.UnsetType = msgspec.UNSET
    method: str | msgspec.UnsetType = msgspec.UNSET
    params: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET


_decode_incoming = msgspec.json.Decoder(_Incoming).decode
_decode_event = msgspec.json.Decoder(Event).decode


class Client:
    def __init__(self, socket_path: str | Path | None = None, connect_timeout: float = 5.0):
        self.path = paths.socket_path(socket_path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(connect_timeout)
        try:
            self.sock.connect(str(self.path))
        except FileNotFoundError:
            self.sock.close()
            raise DaemonUnavailable(self.path, "no socket") from None
        except (ConnectionRefusedError, socket.timeout) as e:
            self.sock.close()
            raise DaemonUnavailable(self.path, type(e).__name__) from None
        except PermissionError:
            self.sock.close()
            raise DaemonUnavailable(self.path, "permission denied") from None
        self.sock.settimeout(None)
        self._buf = bytearray()
        self._next_id = 0
        self._events: deque[Event] = deque()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    # ------------------------------------------------------------ framing

    def _read_line(self) -> bytes:
        while True:
            nl = self._buf.find(b"\n")
            if nl >= 0:
                line = bytes(self._buf[:nl])
                del self._buf[: nl + 1]
                return line
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the daemon closed the connection")
            self._buf += chunk

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_message(self) -> _Incoming:
        return _decode_incoming(self._read_line())

    # ------------------------------------------------------------ calls

    def call(self, method: str, params: Params | dict | None = None, timeout: float | None = None) -> Result:
        """Call `method`; return its typed result or raise RpcFailure."""
        self._next_id += 1
        rid = self._next_id
        frame = encode_request(rid, method, params)
        try:
            self.sock.sendall(frame)
        except (BrokenPipeError, ConnectionResetError) as e:
            # A daemon that refused us (another user) may close before it reads:
            # its reason may be waiting to be read.
            raise self._reason_for_closing() or e
        self.sock.settimeout(timeout)
        try:
            while True:
                msg = self.read_message()
                if msg.method is not msgspec.UNSET:
                    if msg.method == EVENT_NOTIFICATION and msg.params is not msgspec.UNSET:
                        self._events.append(_decode_event(msg.params))
                    continue
                if msg.id is None and msg.error is not msgspec.UNSET:
                    # The daemon could not read our request (too large, not JSON, not
                    # ours to serve), so it could not name it: it is the call we wait on.
                    raise _failure(msg.error)
                if msg.id != rid:
                    continue
                if msg.error is not msgspec.UNSET:
                    raise _failure(msg.error)
                result_type = METHODS[method][1]
                return msgspec.json.decode(msg.result, type=result_type)  # type: ignore[arg-type]
        finally:
            self.sock.settimeout(None)

    def _reason_for_closing(self) -> RpcFailure | None:
        """The error line a daemon sent before it closed on us, if one is there."""
        self.sock.settimeout(1.0)
        try:
            msg = self.read_message()
        except (OSError, msgspec.DecodeError):
            return None
        finally:
            self.sock.settimeout(None)
        return None if msg.error is msgspec.UNSET else _failure(msg.error)

    def events(self) -> Iterator[Event]:
        """Events pushed after events.subscribe, as they arrive."""
        while True:
            while self._events:
                yield self._events.popleft()
            msg = self.read_message()
            if msg.method == EVENT_NOTIFICATION and msg.params is not msgspec.UNSET:
                yield _decode_event(msg.params)

    def leftover(self) -> bytes:
        """Bytes read past the last frame (after an upgrade they are raw output)."""
        data = bytes(self._buf)
        self._buf.clear()
        return data
