"""10,000 hostile frames of every kind: each gets its error, the connection goes on,
and the daemon's memory and fds end where they began."""

from __future__ import annotations

import json
import random
import threading

from caod.protocol import MAX_FRAME, ErrorCode
from caod.server import MAX_IN_FLIGHT

PARSE, INVALID, NO_METHOD, PARAMS = (ErrorCode.PARSE_ERROR, ErrorCode.INVALID_REQUEST, ErrorCode.METHOD_NOT_FOUND,
                                      ErrorCode.INVALID_PARAMS)
FRAMES = 10_000
CONNECTIONS = 8
RSS_GROWTH_MIB = 10  # after a warm-up round: allocator slack, nothing kept per frame


def _req(rid: int, method: str, params: bytes | None = None) -> bytes:
    head = b'{"jsonrpc": "2.0", "id": %d, "method": "%s"' % (rid, method.encode())
    return head + (b', "params": ' + params if params is not None else b"") + b"}"


def _batch(frames: list[bytes]) -> bytes:
    return b"[" + b",".join(frames) + b"]"


def _deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


# Each kind: (the frame for request id `r`, made with random `rng`; the error code
# expected; whether the reply carries the id). A frame the daemon cannot read gets id null.
KINDS = {
    "bad json": (lambda r, rng: b'{"jsonrpc": "2.0", "id": %d, "method": ' % r, PARSE, False),
    "binary": (lambda r, rng: b"\0" + bytes(rng.randrange(256) for _ in range(64)).replace(b"\n", b" "),
               PARSE, False),
    "deep params": (lambda r, rng: _req(r, "daemon.ping", _deep(rng.choice((1000, 3000)))), PARSE, False),
    "deep object": (lambda r, rng: b'{"a": ' * 1500 + b"1" + b"}" * 1500, PARSE, False),
    "deep batch": (lambda r, rng: _deep(5000), PARSE, False),
    "utf-8 in method": (lambda r, rng: b'{"jsonrpc": "2.0", "id": %d, "method": "daemon.p\xffing"}' % r,
                        PARSE, False),
    "utf-8 in params": (lambda r, rng: _req(r, "agent.get", b'{"agent": "\xed\xa0\x80"}'), PARSE, True),
    "huge since": (lambda r, rng: _req(r, "events.list", b'{"since": %d}' % 2**64), PARAMS, True),
    "huge limit": (lambda r, rng: _req(r, "inbox.list", b'{"limit": 1%s}' % (b"0" * 300)), PARAMS, True),
    "huge replay": (lambda r, rng: _req(r, "events.subscribe", b'{"replay": %d}' % 2**63), PARAMS, True),
    "float for int": (lambda r, rng: _req(r, "events.list", b'{"since": 1e400}'), PARAMS, True),
    "wrong type": (lambda r, rng: _req(r, "agent.get", b'{"agent": 5}'), PARAMS, True),
    "unknown field": (lambda r, rng: _req(r, "daemon.ping", b'{"x": 1}'), PARAMS, True),
    "params not an object": (lambda r, rng: _req(r, "daemon.ping", b'"x"'), PARAMS, True),
    "method not a string": (lambda r, rng: b'{"jsonrpc": "2.0", "id": %d, "method": 7}' % r, INVALID, True),
    "wrong version": (lambda r, rng: b'{"jsonrpc": "1.0", "id": %d, "method": "daemon.ping"}' % r, INVALID, True),
    "not an object": (lambda r, rng: rng.choice((b"5", b'"x"', b"null", b"true", b"{}")), INVALID, False),
    "unknown method": (lambda r, rng: _req(r, "no.such" + "x" * rng.randrange(500)), NO_METHOD, True),
    "empty batch": (lambda r, rng: b"[]", INVALID, False),
    "batch over the bound": (lambda r, rng: _batch([_req(r, "daemon.ping")] * (MAX_IN_FLIGHT + 1)),
                             INVALID, False),
    "mixed batch": (lambda r, rng: _batch([_req(r, "no.such"), b"5", _req(r, "daemon.ping", b"[]")]), None, False),
    "oversize": (lambda r, rng: _req(r, "daemon.ping", b'{"pad": "' + b"x" * MAX_FRAME + b'"}'), INVALID, False),
}
RARE = {"oversize": 0.002, "deep batch": 0.02, "deep object": 0.02}  # big frames: fewer of them


def _kind(rng: random.Random) -> str:
    for kind, share in RARE.items():
        if rng.random() < share:
            return kind
    return rng.choice([k for k in KINDS if k not in RARE])


def _check(kind: str, rid: int, reply: object) -> str | None:
    """What is wrong with `reply` to a frame of `kind`, or None."""
    _, code, with_id = KINDS[kind]
    if kind == "mixed batch":
        ok = isinstance(reply, list) and [r["error"]["code"] for r in reply] == [NO_METHOD, INVALID, PARAMS]
        return None if ok else f"{kind}: {reply}"
    if not isinstance(reply, dict) or "error" not in reply or "result" in reply:
        return f"{kind}: {reply}"
    if reply["error"]["code"] != code or reply["id"] != (rid if with_id else None):
        return f"{kind}: expected {int(code)} id {rid if with_id else None}, got {reply}"
    return None


def _vandal(daemon, lines, count: int, seed: int, problems: list[str], seen: dict[str, int]) -> None:
    rng = random.Random(seed)
    with lines(daemon.socket) as conn:
        for i in range(count):
            kind = _kind(rng)
            conn.send(KINDS[kind][0](i, rng))
            problem = _check(kind, i, json.loads(conn.read()))
            if problem:
                problems.append(problem)
            seen[kind] = seen.get(kind, 0) + 1
            if i % 500 == 0:  # the connection still answers a good call
                conn.send(_req(-1, "daemon.ping"))
                assert json.loads(conn.read())["result"]["pid"] == daemon.pid


def _flood(daemon, lines, frames: int) -> tuple[list[str], dict[str, int]]:
    problems: list[str] = []
    seen: dict[str, int] = {}
    threads = [threading.Thread(target=_vandal, args=(daemon, lines, frames // CONNECTIONS, n, problems, seen))
               for n in range(CONNECTIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(50)
    assert not any(t.is_alive() for t in threads), "a vandal got no answer"
    return problems, seen


def test_ten_thousand_hostile_frames(daemon, quiet, lines):
    problems, _ = _flood(daemon, lines, 1000)  # warm-up: the allocator and caches reach their size
    assert not problems, problems[:5]
    before = quiet(daemon)
    problems, seen = _flood(daemon, lines, FRAMES)
    assert not problems, problems[:5]
    assert set(seen) == set(KINDS), set(KINDS) - set(seen)  # every kind was tried
    after = quiet(daemon)
    assert daemon.running()
    assert after.fds == before.fds
    assert after.rss - before.rss < RSS_GROWTH_MIB, f"{before.rss:.0f} -> {after.rss:.0f} MiB"
    assert "Traceback" not in daemon.stderr()
