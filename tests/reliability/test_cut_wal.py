"""A WAL whose end was lost after a kill -9 (cut by hand here; a power loss does the same
with synchronous=NORMAL): SQLite silently keeps the valid start of it, so the start after
says in its log how many committed writes and which message ids are gone."""

from __future__ import annotations

import json


def test_a_cut_wal_is_reported_at_the_next_start(daemon_factory, ready_agent):
    d = daemon_factory.new()
    c = d.client()
    agent = ready_agent(c).id
    for i in range(5):
        c.call("inbox.send", {"receiver": agent, "message": f"run one {i}"})
    assert d.stop() == 0  # a clean stop: all of it in caod.db

    second = daemon_factory.same(d)
    c = second.client()
    agent = ready_agent(c).id
    last = [c.call("inbox.send", {"receiver": agent, "message": f"run two {i}"}).id for i in range(20)][-1]
    second.kill()  # kill -9: the second run's writes are only in the WAL
    wal = d.home / "caod.db-wal"
    with open(wal, "r+b") as fh:
        fh.truncate(wal.stat().st_size // 2)

    third = daemon_factory.same(d)
    kept = [m.id for m in third.client().call("inbox.list", {"limit": 1000}).messages]
    assert 5 <= len(kept) < 25 and kept == list(range(1, len(kept) + 1))
    lines = [json.loads(x) for x in (d.home / "caod.log").read_text().splitlines()]
    (warning,) = [x for x in lines if "WAL was cut short" in x["event"]]
    assert warning["level"] == "warning"
    assert f"ids {len(kept) + 1}..{last} are gone" in warning["event"], warning["event"]
