"""The JSON-RPC wire on a real daemon: framing, envelopes, batches, error codes."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import pytest

from caoctl.client import RpcFailure
from caod.protocol import MAX_FRAME, ErrorCode


class Raw:
    """A bare NDJSON connection: bytes in, parsed lines out."""

    def __init__(self, path: Path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(str(path))
        self.buf = b""

    def send(self, data: bytes | str | object) -> None:
        if not isinstance(data, (bytes, str)):
            data = json.dumps(data)
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data if data.endswith(b"\n") else data + b"\n")

    def recv(self, timeout: float = 10) -> object:
        self.sock.settimeout(timeout)
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def call(self, method: str, params: object = None, rid: object = 1) -> dict:
        msg = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        return self.recv()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw(shared_daemon):
    conn = Raw(shared_daemon.socket)
    yield conn
    conn.close()


def assert_error(reply: object, code: int, rid: object = None) -> dict:
    assert isinstance(reply, dict), reply
    assert reply.get("jsonrpc") == "2.0" and "result" not in reply, reply
    assert reply["id"] == rid, reply
    assert reply["error"]["code"] == code, reply
    assert isinstance(reply["error"]["message"], str) and reply["error"]["message"]
    return reply


def assert_alive(raw: Raw, rid: object = 99) -> None:
    reply = raw.call("daemon.ping", rid=rid)
    assert reply["id"] == rid and reply["result"]["pid"] > 0, reply


def test_ping(raw, shared_daemon):
    reply = raw.call("daemon.ping")
    assert reply["jsonrpc"] == "2.0" and reply["id"] == 1 and "error" not in reply
    assert reply["result"]["pid"] == shared_daemon.pid
    assert reply["result"]["socket"] == str(shared_daemon.socket)
    assert reply["result"]["home"] == str(shared_daemon.home)


@pytest.mark.parametrize("garbage", [b"{nope", b"\xff\xfe\x00garbage", b'{"jsonrpc": "2.0",', b"[1,", b"nul"])
def test_parse_error(raw, garbage):
    raw.send(garbage)
    assert_error(raw.recv(), ErrorCode.PARSE_ERROR)
    assert_alive(raw)


@pytest.mark.parametrize("value", ["5", '"x"', "null", "true", "{}", '{"jsonrpc": "2.0", "id": 3}',
                                   '{"jsonrpc": "2.0", "id": 3, "method": 7}'])
def test_valid_json_that_is_not_a_request(raw, value):
    raw.send(value)
    assert_error(raw.recv(), ErrorCode.INVALID_REQUEST, 3 if '"id": 3' in value else None)
    assert_alive(raw)


@pytest.mark.parametrize("version", ["1.0", "2", 2.0, None])
def test_wrong_jsonrpc_version(raw, version):
    raw.send({"jsonrpc": version, "id": 7, "method": "daemon.ping"})
    assert_error(raw.recv(), ErrorCode.INVALID_REQUEST, 7)


def test_missing_jsonrpc_member(raw):
    raw.send({"id": 8, "method": "daemon.ping"})
    assert_error(raw.recv(), ErrorCode.INVALID_REQUEST, 8)


def test_unknown_method(raw):
    assert_error(raw.call("agent.teleport", {}, rid="abc"), ErrorCode.METHOD_NOT_FOUND, "abc")


@pytest.mark.parametrize("depth", [1000, 100_000])
@pytest.mark.parametrize("shape", ["params", "batch", "object"])
def test_deep_nesting_is_a_parse_error(raw, depth, shape):
    if shape == "params":
        frame = b'{"jsonrpc": "2.0", "id": 1, "method": "daemon.ping", "params": ' + b"[" * depth + b"]" * depth + b"}"
    elif shape == "batch":
        frame = b"[" * depth + b"]" * depth
    else:
        frame = b'{"a": ' * depth + b"1" + b"}" * depth
    raw.send(frame)
    assert_error(raw.recv(timeout=20), ErrorCode.PARSE_ERROR)
    assert_alive(raw)


@pytest.mark.parametrize("frame, rid", [
    (b'{"jsonrpc": "2.0", "id": 1, "method": "daemon.p\xffing"}', None),
    (b'{"jsonrpc": "2.0", "id": "\xc3\x28", "method": "daemon.ping"}', None),
    (b'{"jsonrpc": "2.0", "id": 4, "method": "agent.get", "params": {"agent": "\xed\xa0\x80"}}', 4),
    (b'{"jsonrpc": "2.0", "id": 4, "method": "daemon.ping", "params": {"\xfe": 1}}', 4),
])
def test_invalid_utf8_in_a_string_is_a_parse_error(raw, frame, rid):
    raw.send(frame)
    assert_error(raw.recv(), ErrorCode.PARSE_ERROR, rid)
    assert_alive(raw)
    raw.send(b"[" + frame + b', {"jsonrpc": "2.0", "id": 5, "method": "daemon.ping"}]')
    replies = raw.recv()
    assert_error(replies[0], ErrorCode.PARSE_ERROR, rid)
    assert replies[1]["id"] == 5 and "result" in replies[1]


@pytest.mark.parametrize("method, params", [
    ("events.list", {"since": 2**63}),
    ("events.list", {"since": 10**400}),
    ("events.list", {"limit": 2**64}),
    ("events.list", {"since": -1}),
    ("events.subscribe", {"replay": 2**70}),
    ("inbox.list", {"limit": 2**63}),
])
def test_integers_out_of_range_are_invalid_params(raw, method, params):
    assert_error(raw.call(method, params, rid=12), ErrorCode.INVALID_PARAMS, 12)
    assert_alive(raw)


def test_the_largest_sequence_number_is_served(raw):
    reply = raw.call("events.list", {"since": 2**63 - 1})
    assert reply["result"] == {"events": []}, reply


@pytest.mark.parametrize(
    "method, params",
    [
        ("agent.get", {"agent": 5}),  # wrong type
        ("agent.get", {}),  # missing field
        ("agent.get", {"agent": "x", "bogus": 1}),  # unknown field
        ("agent.get", ["x"]),  # positional params are not supported
        ("daemon.ping", {"extra": True}),
        ("agent.spawn", {"provider": "scripted", "rows": "many"}),
        ("agent.spawn", {"provider": "scripted", "env": {"A": 1}}),
        ("events.list", {"since": "0"}),
    ],
)
def test_invalid_params(raw, method, params):
    assert_error(raw.call(method, params, rid=11), ErrorCode.INVALID_PARAMS, 11)


def test_ids_are_echoed(raw):
    for rid in (0, -5, 2**40, "a string id", None):
        reply = raw.call("daemon.ping", rid=rid)
        assert reply["id"] == rid and "result" in reply


def test_notifications_get_no_reply(raw):
    raw.send({"jsonrpc": "2.0", "method": "daemon.ping"})
    raw.send({"jsonrpc": "2.0", "method": "no.such.method"})
    raw.send({"jsonrpc": "2.0", "method": "agent.get", "params": {"bad": 1}})
    # the next reply on the connection is the answer to the call, nothing before it
    assert_alive(raw, rid=42)
    raw.sock.settimeout(0.3)
    with pytest.raises(TimeoutError):
        raw.sock.recv(1)


def test_oversize_frame_is_refused_and_the_connection_survives(raw):
    big = b'{"jsonrpc": "2.0", "id": 1, "method": "daemon.ping", "params": {"pad": "' + b"x" * MAX_FRAME + b'"}}'
    raw.send(big)
    assert_error(raw.recv(timeout=20), ErrorCode.INVALID_REQUEST)
    assert_alive(raw)
    # the same, streamed in pieces with no newline until the very end
    raw.sock.sendall(b"y" * (MAX_FRAME // 2))
    raw.sock.sendall(b"y" * (MAX_FRAME // 2))
    raw.sock.sendall(b"y" * (MAX_FRAME // 2))
    assert_error(raw.recv(timeout=20), ErrorCode.INVALID_REQUEST)
    raw.sock.sendall(b"z" * 100 + b"\n")  # the rest of the refused frame is skipped
    assert_alive(raw, rid=100)


def test_frame_size_limit_is_exact(raw):
    head = b'{"jsonrpc": "2.0", "id": 5, "method": "daemon.ping"'
    exact = head + b" " * (MAX_FRAME - len(head) - 1) + b"}"
    assert len(exact) == MAX_FRAME
    raw.send(exact)
    assert raw.recv(timeout=20)["id"] == 5
    raw.send(exact[:-1] + b" }")
    assert_error(raw.recv(timeout=20), ErrorCode.INVALID_REQUEST)
    assert_alive(raw)


def test_a_client_that_shuts_its_writing_side_gets_every_reply(raw):
    count = 600  # more than a connection runs at once: some are still unread at the end of file
    call = b'{"jsonrpc": "2.0", "id": %d, "method": "events.list", "params": {"limit": 1}}\n'  # a query: it takes a while
    raw.sock.sendall(b"".join(call % i for i in range(count)))
    raw.sock.shutdown(socket.SHUT_WR)
    ids = set()
    while True:
        try:
            ids.add(raw.recv()["id"])
        except ConnectionError:  # the end of file, once every call is answered
            break
    assert ids == set(range(count))


def test_batch(raw):
    raw.send([
        {"jsonrpc": "2.0", "id": 1, "method": "daemon.ping"},
        {"jsonrpc": "2.0", "method": "daemon.ping"},  # notifications: no entry, not even for errors
        {"jsonrpc": "2.0", "method": "no.such"},
        {"jsonrpc": "2.0", "id": 2, "method": "no.such"},
        5,
        {"jsonrpc": "2.0", "id": 3, "method": "agent.get", "params": {"agent": "nobody"}},
    ])
    replies = raw.recv()
    assert isinstance(replies, list) and len(replies) == 4, replies
    assert replies[0]["id"] == 1 and "result" in replies[0]
    assert_error(replies[1], ErrorCode.METHOD_NOT_FOUND, 2)
    assert_error(replies[2], ErrorCode.INVALID_REQUEST, None)
    assert_error(replies[3], ErrorCode.NO_SUCH_AGENT, 3)


def test_batch_edge_cases(raw):
    raw.send([])
    assert_error(raw.recv(), ErrorCode.INVALID_REQUEST)
    raw.send([{"jsonrpc": "2.0", "method": "daemon.ping"}, {"jsonrpc": "2.0", "method": "daemon.status"}])
    assert_alive(raw, rid=77)  # an all-notification batch gets no reply at all
    raw.send([{"jsonrpc": "2.0", "id": 9, "method": "agent.attach", "params": {"agent": "x"}}])
    replies = raw.recv()
    assert_error(replies[0], ErrorCode.INVALID_REQUEST, 9)


def test_garbage_on_one_connection_does_not_disturb_another(shared_daemon):
    daemon = shared_daemon
    stop = threading.Event()
    errors: list[int] = []

    def vandal() -> None:
        bad = Raw(daemon.socket)
        try:
            while not stop.is_set():
                bad.send(b"\x00\x01 not json at all")
                errors.append(bad.recv()["error"]["code"])
                bad.sock.sendall(b"q" * (MAX_FRAME + 10) + b"\n")
                errors.append(bad.recv(timeout=20)["error"]["code"])
        finally:
            bad.close()

    t = threading.Thread(target=vandal)
    t.start()
    try:
        good = daemon.client()
        t0 = time.monotonic()
        for i in range(200):
            assert good.call("daemon.ping", timeout=10).pid == daemon.pid
        assert time.monotonic() - t0 < 20
    finally:
        stop.set()
        t.join(30)
    assert errors and set(errors) <= {ErrorCode.PARSE_ERROR, ErrorCode.INVALID_REQUEST}
    assert ErrorCode.INVALID_REQUEST in errors


# ---------------------------------------------------------------- domain errors


def code_of(fn) -> int:
    with pytest.raises(RpcFailure) as err:
        fn()
    return err.value.code


def test_domain_errors(client, ready_agent, wait_status, tmp_path):
    assert code_of(lambda: client.call("agent.get", {"agent": "nobody"})) == ErrorCode.NO_SUCH_AGENT
    assert code_of(lambda: client.call("agent.send", {"agent": "nobody", "text": "x"})) == ErrorCode.NO_SUCH_AGENT
    assert code_of(lambda: client.call("events.list", {"agent": "nobody"})) == ErrorCode.NO_SUCH_AGENT
    assert code_of(lambda: client.call("agent.spawn", {"provider": "gpt-17"})) == ErrorCode.NO_SUCH_PROVIDER
    missing = str(tmp_path / "does" / "not" / "exist")
    assert code_of(lambda: client.call("agent.spawn", {"provider": "scripted", "cwd": missing})) == \
        ErrorCode.BAD_DIRECTORY  # one rule with session.launch
    a_file = tmp_path / "file"
    a_file.write_text("")
    assert code_of(lambda: client.call("agent.spawn", {"provider": "scripted", "cwd": str(a_file)})) == \
        ErrorCode.BAD_DIRECTORY
    for bad in ({"rows": 0}, {"cols": 5000}, {"name": " padded "}, {"env": {"A=B": "x"}}):
        assert code_of(lambda: client.call("agent.spawn", {"provider": "scripted", **bad})) == \
            ErrorCode.INVALID_PARAMS, bad

    busy = ready_agent(client, {"rules": [{"match": ".", "reply": "done", "think": 2}]}, name="busy")
    assert code_of(lambda: client.call("agent.send", {"agent": busy.id, "text": "x", "timeout": 0})) == \
        ErrorCode.INVALID_PARAMS
    client.call("agent.send", {"agent": busy.id, "text": "long task"})
    # the input was delivered: the agent is busy at once, before any screen says so
    assert code_of(lambda: client.call("agent.send", {"agent": busy.id, "text": "more"})) == ErrorCode.AGENT_BUSY
    assert code_of(lambda: client.call("agent.spawn", {"provider": "scripted", "name": "busy"})) == \
        ErrorCode.NAME_TAKEN
    wait_status(client, busy.id, "completed")

    dead = ready_agent(client, {"rules": [{"match": "^die$", "exit": 9}]})
    client.call("agent.send", {"agent": dead.id, "text": "die"})
    wait_status(client, dead.id, "exited")
    with pytest.raises(RpcFailure) as err:
        client.call("agent.send", {"agent": dead.id, "text": "hello"})
    assert err.value.code == ErrorCode.AGENT_EXITED and err.value.data["exit_code"] == 9
    assert code_of(lambda: client.call("agent.resize", {"agent": dead.id, "rows": 9, "cols": 9})) == \
        ErrorCode.AGENT_EXITED
    assert code_of(lambda: client.call("agent.wait", {"agent": dead.id, "statuses": ["idle"]})) == \
        ErrorCode.AGENT_EXITED
    assert code_of(lambda: client.call("inbox.send", {"receiver": dead.id, "message": "hi"})) == \
        ErrorCode.AGENT_EXITED
    assert client.call("inbox.list", {"agent": dead.id}).messages == []  # refused, not stored
    # agents resolve by unique id prefix too, but not by one too short to mean anything
    assert client.call("agent.get", {"agent": dead.id[:6]}).id == dead.id
    assert code_of(lambda: client.call("agent.get", {"agent": dead.id[:3]})) == ErrorCode.NO_SUCH_AGENT
