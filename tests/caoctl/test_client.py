"""caoctl's JSON-RPC client against a real daemon: errors the daemon cannot tie to a request."""

from __future__ import annotations

import time

import pytest

import caoctl.client
from caoctl.client import RequestTooLarge, RpcFailure
from caod.protocol import MAX_FRAME, ErrorCode


def test_a_request_over_the_limit_is_refused_before_it_is_sent(daemon):
    c = daemon.client()
    with pytest.raises(RequestTooLarge) as err:
        c.call("agent.send", {"agent": "nobody", "text": "x" * MAX_FRAME}, timeout=10)
    assert err.value.code == ErrorCode.INVALID_REQUEST
    assert f"at most {MAX_FRAME:,} bytes" in err.value.message
    # nothing half-sent is left on the connection: the next call is answered
    assert c.call("daemon.ping", timeout=10).pid == daemon.pid


def test_an_error_with_a_null_id_ends_the_pending_call(daemon, monkeypatch):
    # A client that does not know the limit (an older caoctl): the daemon refuses the
    # frame unread, with id null, and the call must fail instead of waiting for ever.
    monkeypatch.setattr(caoctl.client, "MAX_FRAME", 4 * MAX_FRAME)
    c = daemon.client()
    started = time.monotonic()
    with pytest.raises(RpcFailure) as err:
        c.call("agent.send", {"agent": "nobody", "text": "x" * (MAX_FRAME + 1)}, timeout=20)
    assert err.value.code == ErrorCode.INVALID_REQUEST and "too large" in err.value.message
    assert time.monotonic() - started < 15
    assert c.call("daemon.ping", timeout=10).pid == daemon.pid  # the connection goes on


def test_a_parse_error_ends_the_pending_call(daemon):
    c = daemon.client()
    c.send_raw(b"{not json\n")  # its -32700 (id null) comes first: it is the pending call's
    with pytest.raises(RpcFailure) as err:
        c.call("daemon.ping", timeout=10)
    assert err.value.code == ErrorCode.PARSE_ERROR
