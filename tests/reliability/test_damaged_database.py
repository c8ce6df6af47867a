"""A damaged caod.db at start: the daemon exits non-zero at once with one line that names
the file and what to do, the file is kept aside (never deleted), and the next start
begins with an empty state."""

from __future__ import annotations

import json
import os
import sqlite3

import pytest

START_TIMEOUT = 20


def damaged_pages(path) -> None:
    """A real database whose header is fine and some of whose b-tree pages are not."""
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE filler (v TEXT)")
    con.executemany("INSERT INTO filler VALUES (?)", [("y" * 500,) for _ in range(200)])
    con.commit()
    con.close()
    raw = bytearray(path.read_bytes())
    raw[3 * 4096:6 * 4096] = os.urandom(3 * 4096)
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("damage", ["not a database", "damaged pages"])
def test_a_damaged_database_stops_the_start_clearly_and_is_kept_aside(daemon_factory, damage):
    d = daemon_factory.new(start=False)
    d.home.mkdir(parents=True, mode=0o700)
    db = d.home / "caod.db"
    if damage == "not a database":
        db.write_bytes(b"these are not the bytes of a database\n" * 500)
    else:
        damaged_pages(db)
    damaged = db.read_bytes()

    d.start(expect_ready=False)
    assert d.proc.wait(timeout=START_TIMEOUT) == 1  # no hang: exits, and says why
    (line,) = d.stderr().splitlines()
    (aside,) = d.home.glob("caod.db.corrupt-*")
    assert line.startswith(f"caod: the database {db} is damaged (")
    assert f"it was moved aside to {aside} and kept. Start caod again to begin with an empty state" in line
    assert aside.read_bytes() == damaged and not db.exists()
    logged = [json.loads(x) for x in (d.home / "caod.log").read_text().splitlines()]
    assert [x["event"] for x in logged if x["level"] == "error"][0] == "database is damaged; set aside"

    again = daemon_factory.same(d)  # the next start: an empty state, the damaged file still aside
    assert again.client().call("agent.list", {}).agents == []
    assert aside.read_bytes() == damaged
