"""The store on real SQLite files: a write that cannot be committed fails its caller and
never lands later, records of an outage are kept and land once there is room, reads go
on, one bad statement spoils nothing else, a damaged file is set aside at open (and the
process can still exit), a file deleted or replaced while open is written again, and a
cut WAL is reported at the next open.

"Full" here is SQLite's own SQLITE_FULL, reached with PRAGMA max_page_count; a
real full disk (ENOSPC on a tmpfs) is in tests/reliability/test_full_disk.py.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from caod import dbfile, store as store_module
from caod.protocol import ErrorCode
from caod.rpc import RpcError
from caod.store import CorruptDatabase, Store, StorageError

ROOT = Path(__file__).resolve().parents[2]
INSERT = "INSERT INTO messages (id, sender, receiver, body, status, created_at) VALUES (?,?,?,?,?,?)"
EVENT = "INSERT INTO events (seq, ts, kind, agent, detail) VALUES (?,?,?,?,?)"


def message(i: int, body: str = "hello") -> tuple:
    return (i, "user", "a1", body, "pending", 0.0)


def ids(path: Path, table: str = "messages", key: str = "id") -> list[int]:
    """What another connection finds in the file at `path` (what a restart would see)."""
    con = sqlite3.connect(path)
    try:
        return [r[0] for r in con.execute(f"SELECT {key} FROM {table} ORDER BY {key}")]
    finally:
        con.close()


async def fill_up(s: Store) -> None:
    """No page more for this connection: the next growing transaction fails SQLITE_FULL."""
    raw = s._db._db
    pages = (await raw.execute_fetchall("PRAGMA page_count"))[0][0]
    await raw.execute(f"PRAGMA max_page_count={pages}")


async def make_room(s: Store) -> None:
    await s._db._db.execute("PRAGMA max_page_count=1073741823")


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


BIG = "x" * 50_000  # needs new pages for sure


# ---------------------------------------------------------------- full


def test_a_commit_that_cannot_be_stored_fails_clearly_and_never_lands_later(tmp_path):
    async def main():
        s = Store(tmp_path / "caod.db")
        await s.open()
        await s.commit(INSERT, message(1))
        await fill_up(s)
        with pytest.raises(StorageError) as e:
            await s.commit(INSERT, message(2, BIG))
        assert e.value.code == ErrorCode.STORAGE_FAILED
        assert e.value.message == f"cannot store: no space left on device ({tmp_path / 'caod.db'})"
        assert [r[0] for r in await s.fetchall("SELECT id FROM messages")] == [1]  # reads go on
        await make_room(s)
        await s.commit(INSERT, message(3))  # no restart: the next write succeeds by itself
        await s.close()

    run(main())
    assert ids(tmp_path / "caod.db") == [1, 3]  # 2 was refused: it is not there, now or later


def test_records_of_an_outage_are_kept_in_order_and_land_with_the_next_commit(tmp_path):
    async def main():
        s = Store(tmp_path / "caod.db")
        await s.open()
        await fill_up(s)
        for seq in range(1, 4):
            s.write(EVENT, (seq, 0.0, "status", "a1", BIG))
        await s.flush()  # never raises: a read after it sees what was committed
        with pytest.raises(StorageError):
            await s.sync()  # the records are not stored yet, and sync() says so
        s.write(EVENT, (4, 0.0, "status", "a1", "{}"))
        await s.flush()
        assert await s.fetchall("SELECT seq FROM events") == []
        await make_room(s)
        await s.commit(INSERT, message(1))
        await s.sync()
        assert [r[0] for r in await s.fetchall("SELECT seq FROM events")] == [1, 2, 3, 4]
        await s.close()

    run(main())


def test_kept_records_land_by_themselves_once_there_is_room(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "RETRY_FIRST_S", 0.05)

    async def main():
        s = Store(tmp_path / "caod.db")
        await s.open()
        await fill_up(s)
        s.write(EVENT, (1, 0.0, "status", "a1", BIG))
        await s.flush()
        await make_room(s)  # and no further call: the one-shot retry timer commits them
        deadline = time.monotonic() + 10
        while not ids(tmp_path / "caod.db", "events", "seq"):
            assert time.monotonic() < deadline, "the kept record never landed"
            await asyncio.sleep(0.05)
        await s.close()

    run(main())


def test_the_writer_survives_a_failure_and_each_outage_is_logged_once(tmp_path):
    async def main():
        s = Store(tmp_path / "caod.db")
        await s.open()
        await fill_up(s)
        with capture_logs() as logs:
            for i in range(5):
                with pytest.raises(StorageError):
                    await s.commit(INSERT, message(10 + i, BIG))
            await make_room(s)
            await s.commit(INSERT, message(20))
        events = [e["event"] for e in logs]
        assert events.count("store writes fail; calls that must store data fail until they succeed again") == 1
        assert events.count("store writes succeed again") == 1
        assert not s._writer.done()
        await s.close()

    run(main())
    assert ids(tmp_path / "caod.db") == [20]


def test_a_bad_statement_spoils_nothing_else_in_its_batch(tmp_path):
    async def main():
        s = Store(tmp_path / "caod.db")
        await s.open()
        await s.commit(INSERT, message(1))
        with capture_logs() as logs:
            s.write(INSERT, message(1))  # a duplicate id: this statement's own error
            s.write(EVENT, (1, 0.0, "status", "a1", "{}"))
            results = await asyncio.gather(s.commit(INSERT, message(1)), s.commit(INSERT, message(2)),
                                           return_exceptions=True)
            await s.sync()
        assert isinstance(results[0], sqlite3.IntegrityError) and results[1] is None
        assert [e["event"] for e in logs].count("store statement failed; dropped") == 1
        s.write(EVENT, (2, 0.0, "status", "a1", "{}"))  # and the next batch is not poisoned by it
        await s.close()

    run(main())
    assert ids(tmp_path / "caod.db") == [1, 2]
    assert ids(tmp_path / "caod.db", "events", "seq") == [1, 2]


# ---------------------------------------------------------------- damaged at open


def _threads_left(before: set[threading.Thread]) -> list[threading.Thread]:
    """Non-daemon threads started since `before` that do not end (each gets a moment to)."""
    new = [t for t in threading.enumerate() if t not in before and not t.daemon]
    for t in new:
        t.join(timeout=5)
    return [t for t in new if t.is_alive()]


def test_a_file_that_is_not_a_database_is_set_aside_and_nothing_is_left_running(tmp_path):
    db = tmp_path / "caod.db"
    junk = b"this is not a database\n" * 400
    db.write_bytes(junk)
    before = set(threading.enumerate())

    with pytest.raises(CorruptDatabase) as e:
        run(Store(db).open())

    (aside,) = tmp_path.glob("caod.db.corrupt-*")
    assert aside.read_bytes() == junk and not db.exists()  # kept, never deleted
    assert str(db) in e.value.message and str(aside) in e.value.message
    assert "Start caod again to begin with an empty state" in e.value.message
    assert not _threads_left(before)  # aiosqlite's (non-daemon) thread was stopped


def test_damaged_pages_are_found_at_open(tmp_path):
    db = tmp_path / "caod.db"
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=DELETE")
    con.execute("CREATE TABLE filler (v TEXT)")
    con.executemany("INSERT INTO filler VALUES (?)", [("y" * 500,) for _ in range(200)])
    con.commit()
    con.close()
    raw = bytearray(db.read_bytes())
    page = 4096
    raw[3 * page:6 * page] = os.urandom(3 * page)  # the header is fine, some b-tree pages are not
    db.write_bytes(bytes(raw))

    with pytest.raises(CorruptDatabase):
        run(Store(db).open())
    assert len(list(tmp_path.glob("caod.db.corrupt-*"))) == 1 and not db.exists()


def test_a_process_whose_database_is_damaged_exits(tmp_path):
    """The original hang: an exception out of open() with the connection thread left running."""
    db = tmp_path / "caod.db"
    db.write_bytes(b"\0garbage" * 1000)
    code = ("import asyncio, sys; from pathlib import Path; from caod.store import Store, StorageError\n"
            "try:\n    asyncio.run(Store(Path(sys.argv[1])).open())\n"
            "except StorageError as e:\n    print(e.message); sys.exit(3)\n")
    done = subprocess.run([sys.executable, "-c", code, str(db)], cwd=ROOT, capture_output=True, text=True,
                          timeout=20)
    assert done.returncode == 3, done.stderr
    assert "is damaged" in done.stdout


# ---------------------------------------------------------------- deleted, replaced


def test_a_database_deleted_while_open_is_written_again_with_everything(tmp_path):
    db = tmp_path / "caod.db"

    async def main():
        s = Store(db)
        await s.open()
        for i in range(1, 4):
            await s.commit(INSERT, message(i))
        for suffix in ("", "-wal", "-shm"):  # rm caod.db*
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        with capture_logs() as logs:
            await s.commit(INSERT, message(4))
        assert any("written again" in e["event"] for e in logs)
        assert ids(db) == [1, 2, 3, 4]  # at the path, while still running
        await s.close()

    run(main())
    assert ids(db) == [1, 2, 3, 4]
    assert oct(db.stat().st_mode & 0o777) == "0o600"


def test_a_database_replaced_while_open_keeps_the_other_file_aside(tmp_path):
    db = tmp_path / "caod.db"
    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE theirs (v)")
    con.commit()
    con.close()
    theirs = other.read_bytes()

    async def main():
        s = Store(db)
        await s.open()
        await s.commit(INSERT, message(1))
        os.replace(other, db)
        await s.commit(INSERT, message(2))
        await s.close()

    run(main())
    assert ids(db) == [1, 2]
    (aside,) = tmp_path.glob("caod.db.replaced-*")  # alone: our old WAL did not go with it
    assert aside.read_bytes() == theirs


def test_a_deleted_wal_is_saved_before_a_crash_could_lose_it(tmp_path):
    """Without the check, commits go on into the unlinked WAL: a kill -9 then loses them."""
    db = tmp_path / "caod.db"
    code = ("import asyncio, os, sys; from pathlib import Path; from caod.store import Store\n"
            "INSERT = 'INSERT INTO messages (id, sender, receiver, body, status, created_at) VALUES (?,?,?,?,?,?)'\n"
            "async def main():\n"
            "    db = Path(sys.argv[1]); s = Store(db); await s.open()\n"
            "    for i in range(1, 21): await s.commit(INSERT, (i, 'user', 'a1', 'hi', 'pending', 0.0))\n"
            "    os.unlink(f'{db}-wal')\n"
            "    for i in range(21, 31): await s.commit(INSERT, (i, 'user', 'a1', 'hi', 'pending', 0.0))\n"
            "    os._exit(0)  # as kill -9: nothing closed\n"
            "asyncio.run(main())\n")
    subprocess.run([sys.executable, "-c", code, str(db)], cwd=ROOT, check=True, timeout=20, capture_output=True)
    assert ids(db) == list(range(1, 31))


# ---------------------------------------------------------------- a cut WAL


def test_a_cut_wal_is_reported_with_the_messages_it_took(tmp_path):
    db = tmp_path / "caod.db"
    code = ("import asyncio, os, sys; from pathlib import Path; from caod.store import Store\n"
            "INSERT = 'INSERT INTO messages (id, sender, receiver, body, status, created_at) VALUES (?,?,?,?,?,?)'\n"
            "async def main():\n"
            "    db = Path(sys.argv[1]); s = Store(db); await s.open()\n"
            "    for i in range(1, 11): await s.commit(INSERT, (i, 'user', 'a1', 'hi', 'pending', 0.0))\n"
            "    await s.close()  # a clean stop: all in the database file\n"
            "    s = Store(db); await s.open()\n"
            "    for i in range(11, 31): await s.commit(INSERT, (i, 'user', 'a1', 'hi', 'pending', 0.0))\n"
            "    os._exit(0)  # as kill -9: messages 11..30 are only in the WAL\n"
            "asyncio.run(main())\n")
    subprocess.run([sys.executable, "-c", code, str(db)], cwd=ROOT, check=True, timeout=20, capture_output=True)
    wal = Path(f"{db}-wal")
    with open(wal, "r+b") as fh:
        fh.truncate(wal.stat().st_size // 2)  # the tail of the WAL is gone

    async def reopen():
        s = Store(db)
        with capture_logs() as logs:
            await s.open()
        kept = [r[0] for r in await s.fetchall("SELECT id FROM messages ORDER BY id")]
        await s.close()
        return kept, logs

    kept, logs = run(reopen())
    assert 10 <= len(kept) < 30 and kept == list(range(1, len(kept) + 1))
    (warning,) = [e for e in logs if e["log_level"] == "warning"]
    assert f"ids {len(kept) + 1}..30 are gone" in warning["event"], warning
    assert (warning["mark_message"], warning["db_message"]) == (30, len(kept))

    with capture_logs() as logs:  # reported once: the mark now matches the database
        kept_again, logs = run(reopen())
    assert kept_again == kept and not [e for e in logs if e["log_level"] == "warning"]


def test_no_loss_no_warning(tmp_path):
    db = tmp_path / "caod.db"

    async def twice():
        for n in range(2):
            s = Store(db)
            with capture_logs() as logs:
                await s.open()
            await s.commit(INSERT, message(n + 1))
            await s.close()
            assert not [e for e in logs if e["log_level"] != "info"], logs

    run(twice())
    assert dbfile.CommitMark(db).read() == dbfile.Mark(commits=2, message=2)


def test_a_copy_left_by_a_run_that_died_while_restoring_is_put_in_place(tmp_path):
    db = tmp_path / "caod.db"

    async def first():
        s = Store(db)
        await s.open()
        await s.commit(INSERT, message(1))
        await s._db._db.execute("VACUUM INTO ?", (str(tmp_path / "caod.db.restoring"),))  # as _copy_out does
        await s.close()

    run(first())
    for suffix in ("", "-wal", "-shm"):  # it died after closing the deleted file, before the rename
        Path(f"{db}{suffix}").unlink(missing_ok=True)

    async def second():
        s = Store(db)
        await s.open()
        kept = [r[0] for r in await s.fetchall("SELECT id FROM messages")]
        await s.close()
        return kept

    assert run(second()) == [1]
    assert not (tmp_path / "caod.db.restoring").exists()


def test_a_write_after_close_is_refused_not_left_waiting(tmp_path):
    async def main():
        s = Store(tmp_path / "caod.db")
        await s.open()
        await s.close()
        s.write(EVENT, (1, 0.0, "status", "a1", "{}"))
        await s.flush()
        with pytest.raises(RpcError) as e:
            await s.commit(INSERT, message(1))
        assert e.value.code == ErrorCode.SHUTTING_DOWN

    run(main())
