"""Clients that pipeline without reading, or leave calls waiting and hang up: the
daemon's memory stays bounded, and what they left behind is released."""

from __future__ import annotations

import json
import sys
import threading
import time

from caoctl.client import Client
from caod.server import MAX_IN_FLIGHT

# Growth allowed over a daemon's resident memory before the flood (MiB): the bounded
# buffers (8 MiB of output, 128 KiB of input, MAX_IN_FLIGHT calls) and allocator slack.
# Unbounded, 30k events.list grew it by 90 MiB and 50k agent.wait by 240 MiB.
RSS_GROWTH_MIB = 40


# An agent that prints 5 MB at its first input: more than a viewer may leave unread.
FLOOD = r"""
import os, sys
os.write(1, b"> ")
sys.stdin.readline()
for _ in range(50_000):
    os.write(1, b"x" * 98 + b"\r\n")
while True:  # an Enter pressed again (caod's confirm retry on a slow machine) ends nothing
    os.write(1, b"> ")
    sys.stdin.readline()
"""
FLOOD_PROVIDER = """
name = "flood"
description = "prints 5 MB after its first input"
command = [{python}, "-c", {script}]
[[patterns]]
status = "idle"
regex = "^> ?$"
"""


def _frames(method: str, params: bytes, count: int) -> bytes:
    return b"".join(b'{"jsonrpc": "2.0", "id": %d, "method": "%s", "params": %s}\n' % (i, method.encode(), params)
                    for i in range(count))


class Pinger(threading.Thread):
    """Another client, served all along: the slowest of its round trips."""

    def __init__(self, daemon):
        super().__init__(daemon=True)
        self.client = Client(daemon.socket)
        self.stop = threading.Event()
        self.worst = 0.0
        self.most_calls = 0
        self.count = 0

    def run(self) -> None:
        while not self.stop.is_set():
            t0 = time.monotonic()
            status = self.client.call("daemon.status", timeout=10)
            self.worst = max(self.worst, time.monotonic() - t0)
            self.most_calls = max(self.most_calls, status.calls)
            self.count += 1
            time.sleep(0.02)

    def finish(self) -> None:
        self.stop.set()
        self.join(15)
        self.client.close()


def test_pipelined_events_list_never_read_stays_bounded(daemon, rss_mib, quiet, connect, send_without_reading):
    before = quiet(daemon).rss
    pinger = Pinger(daemon)
    pinger.start()
    s = connect(daemon.socket)
    try:
        frames = _frames("events.list", b'{"limit": 10000}', 30_000)
        send_without_reading(s, frames, seconds=3)
        grown = rss_mib(daemon.pid) - before
    finally:
        pinger.finish()
        s.close()
    assert grown < RSS_GROWTH_MIB, f"the daemon grew by {grown:.0f} MiB"
    # one connection never ran more than the bound (plus the pinger's own call)
    assert pinger.most_calls <= MAX_IN_FLIGHT + 1, pinger.most_calls
    assert pinger.count > 0 and pinger.worst < 2.0, (pinger.count, pinger.worst)
    quiet(daemon)


def test_a_client_that_never_reads_its_replies_is_dropped(daemon, rss_mib, quiet, connect, send_without_reading):
    before = quiet(daemon).rss
    s = connect(daemon.socket)
    try:
        # about 330 bytes of reply for 50 of request: 16 MiB of replies, over the 8 MiB bound
        sent, error = send_without_reading(s, _frames("daemon.status", b"{}", 50_000), seconds=10)
        grown = rss_mib(daemon.pid) - before
    finally:
        s.close()
    assert isinstance(error, (BrokenPipeError, ConnectionResetError)), (sent, error)
    assert grown < RSS_GROWTH_MIB, f"the daemon grew by {grown:.0f} MiB"
    log = (daemon.home / "caod.log").read_text()
    assert log.count("dropped a client that does not read its replies") == 1, log[-2000:]
    quiet(daemon)
    with Client(daemon.socket) as c:
        assert c.call("daemon.ping").pid == daemon.pid


def test_waiting_calls_are_released_when_their_client_hangs_up(daemon, ready_agent, rss_mib, quiet,
                                                                connect, send_without_reading):
    with Client(daemon.socket) as c:
        agent = ready_agent(c).id
    baseline = quiet(daemon)
    pinger = Pinger(daemon)
    pinger.start()
    s = connect(daemon.socket)
    try:
        params = b'{"agent": "%s", "statuses": ["completed"], "timeout": 600}' % agent.encode()
        send_without_reading(s, _frames("agent.wait", params, 50_000), seconds=2)
        with Client(daemon.socket) as c:
            held = c.call("daemon.status", timeout=10)
        grown = rss_mib(daemon.pid) - baseline.rss
    finally:
        pinger.finish()
        s.close()  # the waits are still pending: nobody is left to answer
    assert held.calls == MAX_IN_FLIGHT + 1, held  # the bound, and the status call itself
    assert grown < RSS_GROWTH_MIB, f"the daemon grew by {grown:.0f} MiB"
    t0 = time.monotonic()
    after = quiet(daemon, timeout=5)  # every wait was cancelled, the connection closed
    assert time.monotonic() - t0 < 5
    assert after.status.agents_live == baseline.status.agents_live
    assert after.fds == baseline.fds
    assert pinger.worst < 2.0, pinger.worst
    # the agent and the daemon go on as before
    with Client(daemon.socket) as c:
        assert c.call("agent.get", {"agent": agent}).status.value == "idle"


def test_a_viewer_that_never_reads_is_dropped(daemon_factory, tmp_path, wait_status, quiet, connect, rss_mib):
    folder = tmp_path / "providers"
    folder.mkdir()
    (folder / "flood.toml").write_text(FLOOD_PROVIDER.format(python=json.dumps(sys.executable),
                                                             script=json.dumps(FLOOD)))
    d = daemon_factory.new(start=False)
    d.env["CAOD_PROVIDERS_DIR"] = str(folder)
    d.start()
    with Client(d.socket) as c:
        agent = c.call("agent.spawn", {"provider": "flood"}).id
        wait_status(c, agent, "idle", timeout=20)
    before = quiet(d).rss
    viewer = connect(d.socket)
    try:
        viewer.sendall(b'{"jsonrpc": "2.0", "id": 1, "method": "agent.attach", '
                       b'"params": {"agent": "%s", "redraw": false}}\n' % agent.encode())
        with Client(d.socket) as c:
            c.call("agent.send", {"agent": agent, "text": "go"})
            wait_status(c, agent, "completed", "idle", timeout=40)
        grown = rss_mib(d.pid) - before
        after = quiet(d)  # the viewer's connection is gone, though it never read a byte
    finally:
        viewer.close()
    assert grown < RSS_GROWTH_MIB, f"the daemon grew by {grown:.0f} MiB"
    assert after.status.agents_live == 1


def test_a_client_that_never_reads_does_not_hold_up_a_shutdown(daemon, connect, send_without_reading):
    s = connect(daemon.socket)
    try:
        # 1.6 MB of replies: under the bound, so queued, and more than the socket holds
        send_without_reading(s, _frames("daemon.status", b"{}", 5_000), seconds=2)
        started = time.monotonic()
        assert daemon.stop() == 0
        assert time.monotonic() - started < 10
    finally:
        s.close()
