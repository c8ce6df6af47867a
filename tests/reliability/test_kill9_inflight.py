"""kill -9 of the daemon with 1,000 messages in flight: none lost, none typed twice,
none merged or cut, each receiver's in order.

At the kill: three receivers are busy with a long turn (their messages pile up as
pending), and a fourth is stopped (SIGSTOP) in the middle of a 100 KB paste. The
receivers die with the daemon; the restarted daemon relaunches them (same ids, same
trace files) and delivers the rest. Every input every incarnation took is in the
scripted agent's trace, as length and digest.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import time

RECEIVERS = 4
PER_RECEIVER = 250  # 1,000 in all
RULES = {"rules": [
    {"match": r"^slow", "reply": "slow done", "think": 30},
    {"match": r"^big", "reply": "big taken {turn}", "think": 0},
    {"match": r".", "reply": "ok {turn}", "think": 0},
]}


def _big(i: int, size: int) -> str:
    line = f"big {i:04d} " + "x" * 70
    return "\n".join([line] * (size // (len(line) + 1) + 1))[:size]


def _messages(r: int) -> list[str]:
    """What receiver `r` is sent after its first message: small ones, and every
    25th one 20-100 KB."""
    out = []
    for i in range(PER_RECEIVER - 1):
        out.append(_big(i, 20_000 + (i * 7919) % 80_000) if i % 25 == 0 else f"note {r}-{i}")
    return out


def _send_all(sock_path, items: list[tuple[str, str]]) -> list[int]:
    """inbox.send for every (receiver, text), pipelined in batches: ids in order."""
    ids: list[int] = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:
        raw.connect(str(sock_path))
        for start in range(0, len(items), 100):
            chunk = items[start:start + 100]
            batch = [{"jsonrpc": "2.0", "id": n, "method": "inbox.send",
                      "params": {"receiver": rcv, "message": text}} for n, (rcv, text) in enumerate(chunk)]
            raw.sendall(json.dumps(batch).encode() + b"\n")
            got = b""
            while not got.endswith(b"\n"):
                got += raw.recv(1 << 20)
            replies = sorted(json.loads(got), key=lambda r: r["id"])
            assert all("result" in r for r in replies), replies[:3]
            ids += [r["result"]["id"] for r in replies]
    return ids


def _inputs(trace) -> list[tuple[int, str]]:
    if not trace.exists():
        return []
    return [(e["length"], e["sha256"]) for e in map(json.loads, trace.read_text().splitlines())
            if e.get("event") == "input"]


def _digest(text: str) -> tuple[int, str]:
    return len(text), hashlib.sha256(text.encode()).hexdigest()


def _states(client) -> dict[int, str]:
    return {m.id: m.status for m in client.call("inbox.list", {"limit": 5000}).messages}


def test_kill_9_with_a_thousand_messages_in_flight(daemon_factory, wait_status, tmp_path):
    team = daemon_factory.new()
    c = team.client()
    receivers, traces = [], []
    for r in range(RECEIVERS):
        trace = tmp_path / f"trace{r}.jsonl"
        info = c.call("session.launch", {
            "profile": "developer", "provider": "scripted", "session": f"rel{r}", "cwd": "/tmp",
            "env": {"CAO_SCRIPTED_RULES": json.dumps(RULES), "CAO_SCRIPTED_TRACE": str(trace)}},
            timeout=30).supervisor
        receivers.append(info)
        traces.append(trace)
    for info in receivers:
        wait_status(c, info.id, "idle", timeout=30)

    # Receiver 0 is stopped with a 100 KB paste half written; 1-3 are in a long turn.
    stopped = receivers[0]
    os.kill(stopped.pid, signal.SIGSTOP)
    firsts = [(stopped.id, _big(9999, 100_000))] + [(info.id, f"slow {r}") for r, info in enumerate(receivers) if r]
    first_ids = _send_all(team.socket, firsts)
    for info in receivers[1:]:
        wait_status(c, info.id, "processing", timeout=20)
    rest = {info.id: _messages(r) for r, info in enumerate(receivers)}
    interleaved = [(rcv, texts[i]) for i in range(PER_RECEIVER - 1) for rcv, texts in rest.items()]
    rest_ids = _send_all(team.socket, interleaved)
    deadline = time.monotonic() + 20
    while _states(c)[first_ids[0]] != "delivered":  # typed: the paste is waiting in the PTY
        assert time.monotonic() < deadline
        time.sleep(0.05)

    old_pids = [info.pid for info in receivers]
    team.agent_pids.update(old_pids)
    team.proc.kill()
    team.proc.wait(timeout=15)
    os.kill(stopped.pid, signal.SIGCONT)  # so its hang-up can end it

    again = daemon_factory.same(team)
    c2 = again.client()
    sent: dict[int, tuple[str, str]] = dict(zip(first_ids, firsts)) | dict(zip(rest_ids, interleaved))
    assert len(sent) == RECEIVERS * PER_RECEIVER
    slow_ids = set(first_ids[1:])  # taken by the receivers that died: their turns are gone
    deadline = time.monotonic() + 150
    while True:
        states = _states(c2)
        assert set(states) == set(sent), "accepted messages are missing after the restart"
        open_ = [m for m, s in states.items() if s != "acknowledged" and m not in slow_ids]
        if not open_:
            break
        assert time.monotonic() < deadline, f"{len(open_)} never acknowledged, e.g. {open_[:5]}"
        time.sleep(0.2)  # test-side pacing; the daemon delivers on status events
    for info in c2.call("agent.list", {}).agents:
        if info.id in {r.id for r in receivers}:
            assert info.pid not in old_pids  # relaunched

    for r, info in enumerate(receivers):
        mine = sorted(mid for mid, (rcv, _) in sent.items() if rcv == info.id)
        expected = [_digest(sent[mid][1]) for mid in mine]
        got = _inputs(traces[r])
        assert len(got) == len(expected), f"receiver {r}: {len(got)} inputs for {len(expected)} messages"
        assert got == expected, f"receiver {r}: an input was lost, repeated, merged or out of order"
    assert {states[m] for m in slow_ids} == {"delivered"}
