"""Writes to an agent's PTY are one ordered queue: any size arrives whole, in order,
and the submit key comes after the whole paste, once.

A PTY takes a few KiB at a time; a CLI that is busy (or stopped) leaves the rest
waiting. These tests make the PTY full on purpose: a child that does not read for
a while, and a scripted agent stopped with SIGSTOP in the middle of a delivery.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from caod.pty_child import PtyChild

# Reads stdin in raw mode after a pause (so our writes back up), until END, then
# writes what it read, as length and digest, to the file named in argv[1].
READER = r"""
import hashlib, os, sys, time, tty
tty.setraw(0)
os.write(1, b"R")
time.sleep(float(sys.argv[2]))
data = b""
while not data.endswith(b"END"):
    chunk = os.read(0, 65536)
    if not chunk:
        break
    data += chunk
body = data[:-3]
with open(sys.argv[1], "w") as fh:
    fh.write(f"{len(body)} {hashlib.sha256(body).hexdigest()}")
"""


def test_writes_queue_in_order_while_the_pty_is_full(tmp_path: Path):
    out = tmp_path / "got"
    chunks = [bytes([65 + i]) * size for i, size in enumerate((90_000, 7, 150_000, 60_000))]

    async def run() -> list[str]:
        done = asyncio.get_running_loop().create_future()
        raw = asyncio.Event()  # input written before raw mode would be cut by the line discipline
        child = PtyChild([sys.executable, "-c", READER, str(out), "0.5"], str(tmp_path), dict(os.environ),
                         24, 80, lambda data: raw.set() if b"R" in data else None,
                         lambda _c, _s: done.set_result(None))
        await asyncio.wait_for(raw.wait(), 10)
        order: list[str] = []
        for i, chunk in enumerate(chunks):
            child.write(chunk)
            child.when_written(lambda i=i: order.append(f"chunk {i} written"))
        assert child.unwritten > 0, "the child is not reading yet: the PTY must be full"
        child.write(b"END")
        child.when_written(lambda: order.append("all written"))
        await asyncio.wait_for(done, 20)
        return order

    order = asyncio.run(run())
    body = b"".join(chunks)
    assert out.read_text() == f"{len(body)} {hashlib.sha256(body).hexdigest()}"
    assert order == ["chunk 0 written", "chunk 1 written", "chunk 2 written", "chunk 3 written", "all written"]


def test_when_written_with_nothing_queued_runs_soon(tmp_path: Path):
    async def run() -> bool:
        child = PtyChild([sys.executable, "-c", "import time; time.sleep(5)"], str(tmp_path), dict(os.environ),
                         24, 80, lambda _data: None, lambda _c, _s: None)
        ran = asyncio.Event()
        child.when_written(ran.set)
        try:
            await asyncio.wait_for(ran.wait(), 2)
            return True
        finally:
            child.signal(signal.SIGKILL)
            await child.exited.wait()

    assert asyncio.run(run())


# ---------------------------------------------------------------- through the daemon


def _inputs(trace: Path) -> list[dict]:
    if not trace.exists():
        return []
    return [e for e in map(json.loads, trace.read_text().splitlines()) if e.get("event") == "input"]


def _digest(text: str) -> tuple[int, str]:
    return len(text), hashlib.sha256(text.encode()).hexdigest()


def _message_state(client, agent_id: str, mid: int) -> str:
    return next(m.status for m in client.call("inbox.list", {"agent": agent_id}).messages if m.id == mid)


def _wait_acknowledged(client, agent_id: str, mid: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while _message_state(client, agent_id, mid) != "acknowledged":
        assert time.monotonic() < deadline, f"message {mid} is {_message_state(client, agent_id, mid)}"
        client.call("agent.wait", {"agent": agent_id, "statuses": ["completed"], "timeout": 2}, timeout=12)
        time.sleep(0.05)  # the test polls; the daemon does not


def _big_text(size: int) -> str:
    line = "the quick brown fox jumps over the lazy dog 0123456789 "
    lines = [f"{i:05d} {line}" for i in range(size // (len(line) + 6) + 1)]
    return "\n".join(lines)[:size]


def test_a_message_to_a_stopped_cli_arrives_whole_and_is_submitted_once(client, ready_agent, tmp_path):
    trace = tmp_path / "trace.jsonl"
    agent = ready_agent(client, env={"CAO_SCRIPTED_TRACE": str(trace)})
    first, second = _big_text(20_000), "and a short one after it"
    os.kill(agent.pid, signal.SIGSTOP)
    try:
        m1 = client.call("inbox.send", {"receiver": agent.id, "message": first})
        time.sleep(1.0)  # the PTY fills while the CLI is stopped
        assert _message_state(client, agent.id, m1.id) == "delivered"
    finally:
        os.kill(agent.pid, signal.SIGCONT)
    m2 = client.call("inbox.send", {"receiver": agent.id, "message": second})
    _wait_acknowledged(client, agent.id, m1.id)
    _wait_acknowledged(client, agent.id, m2.id)
    got = [(e["length"], e["sha256"]) for e in _inputs(trace)]
    assert got == [_digest(first), _digest(second)], "cut, merged or submitted early"


@pytest.mark.parametrize("size", [70_000, 400_000])
def test_a_big_message_gets_its_submit_key_after_the_paste(client, ready_agent, send, tmp_path, size):
    trace = tmp_path / "trace.jsonl"
    agent = ready_agent(client, env={"CAO_SCRIPTED_TRACE": str(trace)})
    text = _big_text(size)
    result = send(client, agent.id, text, timeout=60)
    assert result.ended == "completed"
    assert [(e["length"], e["sha256"]) for e in _inputs(trace)] == [_digest(text)]
