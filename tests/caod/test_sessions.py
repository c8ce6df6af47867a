"""A session launch whose rows cannot be stored fails, and leaves no half-made session
running: its supervisor (a real scripted agent on a real PTY) is stopped and the session
is ended. A daemon object in this process, so its store can be filled up (SQLite's own
SQLITE_FULL, via PRAGMA max_page_count)."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import pytest

from caod.daemon import Daemon
from caod.protocol import LaunchParams
from caod.status import Status
from caod.store import StorageError


def test_a_launch_that_cannot_be_stored_leaves_nothing_running():
    async def main(folder: Path):
        d = Daemon(folder / "caod.sock", folder / "home")
        await d.store.open()
        await d.bus.load()
        await d.sessions.load()
        await d.inbox.load()
        try:
            raw = d.store._db._db
            pages = (await raw.execute_fetchall("PRAGMA page_count"))[0][0]
            await raw.execute(f"PRAGMA max_page_count={pages}")
            with pytest.raises(StorageError) as e:  # the task (big: new pages) cannot be stored
                await d.sessions.launch(LaunchParams(profile="code_supervisor", provider="scripted", session="t1",
                                                     cwd="/tmp", task="do this " * 10_000))
            assert e.value.message.startswith("cannot store: no space left on device")
            assert not d.sessions.sessions["t1"].active
            (supervisor,) = d.agents.agents.values()
            assert supervisor.status is Status.EXITED and d.inbox.depth(supervisor.id) == 0
        finally:
            await d.agents.stop_all(3)
            await d.store.close()

    with tempfile.TemporaryDirectory(prefix="caodt-", dir="/tmp") as folder:  # short: a socket path
        asyncio.run(asyncio.wait_for(main(Path(folder)), 60))
