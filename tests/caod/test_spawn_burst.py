"""Many spawns at once: each agent starts, gets its row and its events in order, a failed
start fails alone, and the daemon keeps answering while children start (off the loop)."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from pathlib import Path

import msgspec

from caoctl.client import Client
from caod.protocol import AgentInfo, ErrorCode, Event, encode_line
from caod.status import EventKind, Signal, Status
ROOT = Path(__file__).resolve().parents[2]

BURST = 50
RULES = json.dumps({"default": {"reply": "ok", "think": 0.05}})


def scripted(name: str | None = None) -> dict:
    params = {"provider": "scripted", "cwd": str(ROOT), "env": {"CAO_SCRIPTED_RULES": RULES}}
    if name is not None:
        params["name"] = name
    return params


def pipelined(client: Client, calls: list[tuple[str, dict]], timeout: float = 120) -> list[tuple[str, object]]:
    """Send every call before reading any reply; (id, reply) in the order the replies came."""
    lines = [encode_line({"jsonrpc": "2.0", "id": f"c{i}", "method": m, "params": p}) for i, (m, p) in enumerate(calls)]
    client.send_raw(b"".join(lines))
    client.sock.settimeout(timeout)
    got = []
    try:
        while len(got) < len(calls):
            msg = client.read_message()
            if msg.method is msgspec.UNSET:
                got.append((msg.id, msg))
    finally:
        client.sock.settimeout(None)
    return got


def test_fifty_spawned_at_once_reach_idle_each_with_its_row_and_its_events_in_order(daemon):
    c = daemon.client()
    replies = pipelined(c, [("agent.spawn", scripted(f"burst-{n}")) for n in range(BURST)])
    assert all(r.error is msgspec.UNSET for _, r in replies), [r.error for _, r in replies if r.error]
    infos = {int(rid[1:]): msgspec.json.decode(r.result, type=AgentInfo) for rid, r in replies}
    assert sorted(i.name for i in infos.values()) == sorted(f"burst-{n}" for n in range(BURST))
    assert all(infos[n].name == f"burst-{n}" for n in range(BURST))  # each reply is its own call's agent
    assert len({i.id for i in infos.values()}) == BURST and len({i.pid for i in infos.values()}) == BURST
    for info in infos.values():
        c.call("agent.wait", {"agent": info.id, "statuses": ["idle"], "timeout": 60}, timeout=70)
    status = c.call("daemon.status", timeout=30)  # waits for the queued writes
    assert (status.agents, status.agents_live) == (BURST, BURST)

    with sqlite3.connect(f"file:{daemon.home / 'caod.db'}?mode=ro", uri=True) as db:
        rows = {r[0]: r[1:] for r in db.execute("SELECT id, name, pid, status FROM agents")}
    assert rows == {i.id: (i.name, i.pid, "idle") for i in infos.values()}

    for info in infos.values():
        events = c.call("events.list", {"agent": info.id}).events
        assert [(e.kind, e.old, e.new, e.signal) for e in events] == [
            (EventKind.SPAWNED, None, Status.STARTING, Signal.PROCESS),
            (EventKind.STATUS, Status.STARTING, Status.IDLE, Signal.SCREEN),
        ]
        assert events[0].detail["pid"] == info.pid
        assert events[0].seq < events[1].seq


def test_a_start_that_fails_fails_alone_with_one_clear_error(daemon_factory, tmp_path):
    providers_dir = tmp_path / "providers"
    providers_dir.mkdir()
    not_a_program = tmp_path / "not-a-program"
    not_a_program.write_bytes(b"\x00\x01 neither ELF nor #!\n")
    not_a_program.chmod(stat.S_IRWXU)  # found and executable, but exec fails (ENOEXEC) in the child
    for name, command in (("missing", "caod-test-no-such-binary"), ("unrunnable", str(not_a_program))):
        (providers_dir / f"{name}.toml").write_text(
            f'name = "{name}"\ndescription = "test"\ncommand = ["{command}"]\n'
            'patterns = [{ status = "idle", regex = "^never$" }]\n')
    d = daemon_factory.new(start=False)
    d.env["CAOD_PROVIDERS_DIR"] = str(providers_dir)
    d.start()
    c = d.client()
    calls = [("agent.spawn", scripted()), ("agent.spawn", {"provider": "missing", "cwd": str(ROOT)}),
             ("agent.spawn", scripted()), ("agent.spawn", {"provider": "unrunnable", "cwd": str(ROOT)}),
             ("agent.spawn", scripted())]
    replies = dict(pipelined(c, calls))
    errors = {rid: r.error for rid, r in replies.items() if r.error is not msgspec.UNSET}
    assert sorted(errors) == ["c1", "c3"]
    for rid, name in (("c1", "missing"), ("c3", "unrunnable")):
        assert errors[rid].code == ErrorCode.SPAWN_FAILED
        assert errors[rid].message.startswith(f"cannot start {name}: ")
        assert "\n" not in errors[rid].message and "Traceback" not in errors[rid].message
    good = [msgspec.json.decode(replies[rid].result, type=AgentInfo) for rid in ("c0", "c2", "c4")]
    for info in good:
        c.call("agent.wait", {"agent": info.id, "statuses": ["idle"], "timeout": 60}, timeout=70)
    status = c.call("daemon.status", timeout=30)
    assert (status.agents, status.agents_live) == (3, 3)
    assert sorted(os.listdir(d.home / "agents")) == sorted(i.id for i in good)  # a failed start leaves no folder
    events = c.call("events.list", {}).events
    assert {e.agent for e in events} == {i.id for i in good}


def test_the_daemon_answers_while_agents_start(daemon):
    """A spawn waits for its child's exec off the loop: a ping sent after three spawns is
    answered before all three are (it used to wait behind every fork and exec)."""
    c = daemon.client()
    order = [rid for rid, _ in pipelined(c, [("agent.spawn", scripted()) for _ in range(3)] + [("daemon.ping", {})])]
    assert order[-1] != "c3", order


def test_one_live_name_among_spawns_sent_at_once(daemon):
    c = daemon.client()
    replies = pipelined(c, [("agent.spawn", scripted("twin")) for _ in range(4)])
    ok = [r for _, r in replies if r.error is msgspec.UNSET]
    refused = [r.error for _, r in replies if r.error is not msgspec.UNSET]
    assert len(ok) == 1
    assert [e.code for e in refused] == [ErrorCode.NAME_TAKEN] * 3
    listed = c.call("agent.list", {"live_only": True}).agents
    assert [a.name for a in listed] == ["twin"]




def test_events_reach_a_subscriber_once_each_in_order_and_before_the_reply_that_follows_them(daemon):
    """Events of one loop pass go out in one write (caod.server): none lost, none reordered,
    and a reply never overtakes an event published before it (an agent's spawned event
    precedes its spawn reply)."""
    c = daemon.client()
    c.call("events.subscribe", {})
    n = 10
    c.send_raw(b"".join(encode_line({"jsonrpc": "2.0", "id": f"s{i}", "method": "agent.spawn", "params": scripted()})
                        for i in range(n)))
    c.sock.settimeout(60)
    stream: list[tuple[str, object]] = []  # ("event", Event) or ("reply", agent id), as they arrive
    idle: set[str] = set()
    while len(idle) < n:
        msg = c.read_message()
        if msg.method is msgspec.UNSET:
            assert msg.error is msgspec.UNSET, msg.error
            stream.append(("reply", msgspec.json.decode(msg.result, type=AgentInfo).id))
            continue
        event = msgspec.json.decode(msg.params, type=Event)
        stream.append(("event", event))
        if event.new is Status.IDLE:
            idle.add(event.agent)
    events = [e for kind, e in stream if kind == "event"]
    assert [e.seq for e in events] == list(range(events[0].seq, events[0].seq + len(events)))  # each once, in order
    for agent_id in idle:
        spawned_at = next(i for i, (k, e) in enumerate(stream) if k == "event" and e.agent == agent_id
                          and e.kind is EventKind.SPAWNED)
        assert spawned_at < stream.index(("reply", agent_id))
    assert len([e for e in events if e.kind is EventKind.SPAWNED]) == n


def test_a_reply_never_overtakes_the_events_sent_before_it(daemon, ready_agent):
    """Replayed events are queued for the connection's next write; the reply of the call
    after them must not pass them."""
    c = daemon.client()
    for _ in range(3):
        ready_agent(c)
    first = {"jsonrpc": "2.0", "id": "first", "method": "events.subscribe", "params": {"replay": 20}}
    second = {"jsonrpc": "2.0", "id": "second", "method": "events.subscribe", "params": {}}
    c.send_raw(encode_line(first) + encode_line(second))
    c.sock.settimeout(30)
    order = []
    while "second" not in order:
        msg = c.read_message()
        order.append(msg.id if msg.method is msgspec.UNSET else "event")
    assert order == ["first"] + ["event"] * 6 + ["second"]  # each agent: spawned, then starting -> idle
