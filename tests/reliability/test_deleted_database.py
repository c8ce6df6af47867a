"""caod.db deleted or replaced under a running daemon: the next write notices (the file
at the path is not the one it has open) and writes the open database out to the path
again, so a restart finds every session, agent and message; a replacing file is kept
aside, never deleted."""

from __future__ import annotations

import json
import sqlite3

import pytest


def bodies(c, agent=None) -> list[tuple[str, str]]:
    params = {"agent": agent} if agent else {}
    return [(m.body, m.status) for m in c.call("inbox.list", params).messages]


def rows(path, sql: str) -> list:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_a_database_deleted_or_replaced_while_running_is_written_again(wait_for, daemon_factory, ready_agent, how,
                                                                      tmp_path):
    d = daemon_factory.new()
    db = d.home / "caod.db"
    c = d.client()
    agent = ready_agent(c).id
    c.call("inbox.send", {"receiver": agent, "message": "one"})
    wait_for(lambda: bodies(c) == [("one", "acknowledged")], "the first message acknowledged")

    theirs = None
    if how == "deleted":  # rm caod.db*
        for path in d.home.glob("caod.db*"):
            path.unlink()
    else:  # mv other.db caod.db
        other = tmp_path / "other.db"
        con = sqlite3.connect(other)
        con.execute("CREATE TABLE someone_elses (v)")
        con.commit()
        con.close()
        theirs = other.read_bytes()
        other.rename(db)

    c.call("inbox.send", {"receiver": agent, "message": "two"})
    wait_for(lambda: bodies(c) == [("one", "acknowledged"), ("two", "acknowledged")], "the second acknowledged")
    assert [r[0] for r in rows(db, "SELECT body FROM messages ORDER BY id")] == ["one", "two"]
    assert rows(db, "SELECT id FROM agents") == [(agent,)]
    logged = [json.loads(x)["event"] for x in (d.home / "caod.log").read_text().splitlines()]
    assert "the database was deleted or replaced while caod ran; written again from the open copy" in logged
    if theirs is not None:
        (aside,) = d.home.glob("caod.db.replaced-*")
        assert aside.read_bytes() == theirs

    assert d.stop() == 0
    again = daemon_factory.same(d)
    assert bodies(again.client()) == [("one", "acknowledged"), ("two", "acknowledged")]
    assert rows(db, "SELECT id, status FROM agents") == [(agent, "exited")]
