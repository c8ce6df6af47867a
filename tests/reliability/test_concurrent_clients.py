"""Many clients at once, and one that pipelines far past the in-flight bound while it
reads its replies: every call is answered, none is dropped."""

from __future__ import annotations

import json
import threading
import time

from caoctl.client import Client, RpcFailure
from caod.protocol import ErrorCode
from caod.server import MAX_IN_FLIGHT

CLIENTS = 64
ROUNDS = 8


def _client_work(daemon, agent: str, errors: list[str], done: list[int]) -> None:
    try:
        with Client(daemon.socket) as c:
            for _ in range(ROUNDS):
                assert c.call("daemon.ping", timeout=30).pid == daemon.pid
                assert agent in [a.id for a in c.call("agent.list", {}, timeout=30).agents]
                assert c.call("agent.get", {"agent": agent}, timeout=30).id == agent
                assert c.call("agent.output", {"agent": agent}, timeout=30).agent == agent
                c.call("events.list", {"agent": agent, "limit": 50}, timeout=30)
                c.call("inbox.list", {"limit": 10}, timeout=30)
                try:
                    c.call("agent.get", {"agent": "nobody"}, timeout=30)
                    errors.append("agent.get of nobody succeeded")
                except RpcFailure as e:  # the one error expected, with its own code
                    if e.code != ErrorCode.NO_SUCH_AGENT:
                        errors.append(f"agent.get of nobody: {e.code} {e.message}")
                done.append(1)
    except Exception as e:  # noqa: BLE001 - every failure is counted, none is expected
        errors.append(repr(e))


def test_sixty_four_clients_at_once(daemon, ready_agent, quiet):
    with Client(daemon.socket) as c:
        agent = ready_agent(c).id
    before = quiet(daemon)
    errors: list[str] = []
    done: list[int] = []
    threads = [threading.Thread(target=_client_work, args=(daemon, agent, errors, done)) for _ in range(CLIENTS)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(45)
    assert not any(t.is_alive() for t in threads), "a client got no answer"
    assert errors == [], errors[:5]
    assert len(done) == CLIENTS * ROUNDS
    assert time.monotonic() - started < 45
    after = quiet(daemon)
    assert after.fds == before.fds


def test_a_pipelining_client_that_reads_gets_every_reply(daemon, lines, quiet):
    count = 40 * MAX_IN_FLIGHT  # far past the bound: the daemon pauses reading, never drops
    with lines(daemon.socket) as conn:
        frames = b"".join(b'{"jsonrpc": "2.0", "id": %d, "method": "daemon.ping"}\n' % i for i in range(count))
        writer = threading.Thread(target=conn.sock.sendall, args=(frames,))
        writer.start()
        ids = {json.loads(conn.read())["id"] for _ in range(count)}
        writer.join(10)
    assert ids == set(range(count))
    quiet(daemon)
