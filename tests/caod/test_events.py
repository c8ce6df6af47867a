"""events.subscribe / events.list, durability across restarts, recovery, frame kinds."""

from __future__ import annotations

import pytest

from caoctl.client import RpcFailure
from caod.protocol import ErrorCode
from caod.status import EventKind, Signal, Status

TURN = {"rules": [{"match": ".", "reply": "ok {text}", "think": 0.2}]}


def all_events(client, **params):
    return client.call("events.list", {"limit": 10000, **params}).events


def nth(n, pred):
    """A predicate that holds at the n-th event matching `pred`."""
    count = 0

    def check(event) -> bool:
        nonlocal count
        count += bool(pred(event))
        return count == n

    return check


def completed(event) -> bool:
    return event.new is Status.COMPLETED


def test_subscribe_live_only(daemon, ready_agent, send, events_until):
    c = daemon.client()
    info = ready_agent(c, TURN)
    watcher = daemon.client()
    sub = watcher.call("events.subscribe", {})
    assert sub.seq == all_events(c)[-1].seq  # the last event at subscription time
    send(c, info.id, "one")
    seen = events_until(watcher, completed)
    assert seen[0].seq == sub.seq + 1  # no replay, no gap
    assert [e.seq for e in seen] == list(range(sub.seq + 1, sub.seq + 1 + len(seen)))
    assert [e.new for e in seen] == [Status.PROCESSING, Status.COMPLETED]
    # a spawn is an event too
    other = c.call("agent.spawn", {"provider": "scripted"})
    spawned = events_until(watcher, lambda e: e.kind is EventKind.SPAWNED)[-1]
    assert spawned.agent == other.id and spawned.new is Status.STARTING and spawned.detail["pid"] == other.pid


def test_subscribe_with_replay(daemon, ready_agent, send, events_until):
    c = daemon.client()
    info = ready_agent(c, TURN)
    send(c, info.id, "one")
    history = all_events(c)
    assert len(history) >= 4
    watcher = daemon.client()
    sub = watcher.call("events.subscribe", {"replay": 3})
    replayed = events_until(watcher, lambda e: e.seq == sub.seq)
    assert [e.seq for e in replayed] == [e.seq for e in history[-3:]]
    assert replayed == history[-3:]  # the same events as stored
    send(c, info.id, "two")
    live = events_until(watcher, completed)
    assert live[0].seq == sub.seq + 1
    # replaying more than exists gives everything, in order
    everything = daemon.client()
    sub2 = everything.call("events.subscribe", {"replay": 1000})
    got = events_until(everything, lambda e: e.seq == sub2.seq)
    assert [e.seq for e in got] == [e.seq for e in all_events(c)]


def test_subscribe_filtered_by_agent(daemon, ready_agent, send, events_until):
    c = daemon.client()
    a = ready_agent(c, TURN, name="alpha")
    b = ready_agent(c, TURN)
    only_a = daemon.client()
    only_a.call("events.subscribe", {"agent": "alpha", "replay": 100})  # by name
    everyone = daemon.client()
    everyone.call("events.subscribe", {})
    send(c, b.id, "to b")
    send(c, a.id, "to a")
    send(c, b.id, "to b again")
    send(c, a.id, "to a again")
    seen_a = events_until(only_a, nth(2, completed))
    assert {e.agent for e in seen_a} == {a.id}
    assert [e.new for e in seen_a] == [Status.STARTING, Status.IDLE] + [Status.PROCESSING, Status.COMPLETED] * 2
    seen_all = events_until(everyone, nth(4, completed))
    assert [e.agent for e in seen_all if completed(e)] == [b.id, a.id, b.id, a.id]
    assert [e.seq for e in seen_all] == sorted(e.seq for e in seen_all)
    with pytest.raises(RpcFailure) as err:
        daemon.client().call("events.subscribe", {"agent": "nobody"})
    assert err.value.code == ErrorCode.NO_SUCH_AGENT


def test_events_list_since_and_limit(client, ready_agent, send):
    a = ready_agent(client, TURN)
    b = ready_agent(client, TURN)
    send(client, a.id, "x")
    send(client, b.id, "y")
    events = all_events(client)
    seqs = [e.seq for e in events]
    assert seqs == list(range(1, len(events) + 1))  # numbered from 1, no gaps
    assert all(e.ts > 0 for e in events)
    assert [e.ts for e in events] == sorted(e.ts for e in events)
    assert events[0].kind is EventKind.SPAWNED
    mid = seqs[len(seqs) // 2]
    after = all_events(client, since=mid)
    assert [e.seq for e in after] == [s for s in seqs if s > mid]
    assert all_events(client, since=seqs[-1]) == []
    limited = client.call("events.list", {"limit": 2}).events
    assert len(limited) == 2 and limited[0].seq < limited[1].seq
    assert {e.seq for e in limited} <= set(seqs)
    only_b = all_events(client, agent=b.id)
    assert only_b and {e.agent for e in only_b} == {b.id}
    assert [e.seq for e in only_b] == [e.seq for e in events if e.agent == b.id]
    assert all_events(client, agent=b.id, since=only_b[1].seq) == only_b[2:]


def test_events_survive_a_restart(daemon, daemon_factory, ready_agent, send):
    c = daemon.client()
    info = ready_agent(c, TURN)
    send(c, info.id, "before restart")
    before = all_events(c)
    assert daemon.stop() == 0
    again = daemon_factory.same(daemon)
    c2 = again.client()
    after = all_events(c2)
    assert after[: len(before)] == before  # the same events, same numbers
    # the old agent's end was recorded by the stopping daemon
    tail = [e for e in after if e.agent == info.id][-1]
    assert (tail.new, tail.signal) == (Status.EXITED, Signal.PROCESS)
    new = ready_agent(c2, TURN)
    fresh = all_events(c2, since=after[-1].seq)
    assert fresh and fresh[0].seq == after[-1].seq + 1  # numbering goes on
    assert fresh[0].agent == new.id and fresh[0].kind is EventKind.SPAWNED


def test_kill_9_then_recovery(daemon, daemon_factory, ready_agent, send):
    c = daemon.client()
    idle = ready_agent(c, TURN)
    done = ready_agent(c, TURN)
    send(c, done.id, "finish")
    last_seq = all_events(c)[-1].seq
    daemon.kill()  # no chance to record anything
    again = daemon_factory.same(daemon)
    c2 = again.client()
    recovered = all_events(c2, since=last_seq)
    by_agent = {e.agent: e for e in recovered}
    assert set(by_agent) == {idle.id, done.id}, recovered
    for agent_id, old in ((idle.id, Status.IDLE), (done.id, Status.COMPLETED)):
        e = by_agent[agent_id]
        assert (e.kind, e.old, e.new, e.signal) == (EventKind.STATUS, old, Status.EXITED, Signal.RECOVERY)
        assert e.detail.get("reason")
    # recovery happens once: a clean restart does not repeat it
    assert again.stop() == 0
    third = daemon_factory.same(daemon)
    c3 = third.client()
    assert [e for e in all_events(c3) if e.signal is Signal.RECOVERY] == recovered


def test_a_status_a_caller_was_told_of_survives_kill_9(daemon, daemon_factory, ready_agent, send):
    """agent.send --wait and agent.wait reply only once the status is committed."""
    c = daemon.client()
    waited = ready_agent(c, TURN)  # agent.wait answered idle
    done = ready_agent(c, TURN)
    reply = send(c, done.id, "finish")  # answered completed
    assert reply.ended is Status.COMPLETED
    daemon.kill()  # at once: nothing after the replies gets written
    c2 = daemon_factory.same(daemon).client()
    for agent_id, told in ((waited.id, Status.IDLE), (done.id, Status.COMPLETED)):
        statuses = [e.new for e in all_events(c2) if e.agent == agent_id and e.kind is EventKind.STATUS]
        assert statuses[-2:] == [told, Status.EXITED], statuses


@pytest.mark.parametrize("no_sync, frame", [(False, "sync"), (True, "quiet")])
def test_frame_kinds(client, ready_agent, send, no_sync, frame):
    info = ready_agent(client, {"rules": [{"match": ".", "reply": "r", "think": 0.3}]}, no_sync=no_sync)
    assert send(client, info.id, "go").answer == "r"
    events = all_events(client, agent=info.id)
    assert [e.new for e in events] == [Status.STARTING, Status.IDLE, Status.PROCESSING, Status.COMPLETED]
    screen = [e for e in events if e.signal is Signal.SCREEN]
    assert [e.new for e in screen] == [Status.IDLE, Status.COMPLETED]
    assert {e.detail["frame"] for e in screen} == {frame}
    assert events[2].signal is Signal.OUTPUT  # processing: output rose after the input
