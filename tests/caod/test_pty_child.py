"""PtyChild closes its PTY once: a child gone from memory cannot close a reused fd number."""

from __future__ import annotations

import asyncio
import gc
import os

from caod.pty_child import PtyChild


def test_a_collected_child_leaves_the_reused_fd_number_alone():
    async def scenario() -> int:
        ended = asyncio.Event()
        child = PtyChild(["true"], "/", dict(os.environ), 24, 80, lambda _data: None,
                         lambda _code, _sig: ended.set())
        number = child.fd
        await asyncio.wait_for(ended.wait(), 20)
        assert child.exit_code == 0
        # The next file opened takes the lowest free number: the PTY's, now closed.
        spare = []
        while True:
            fd = os.open(os.devnull, os.O_RDONLY)
            if fd == number:
                break
            spare.append(fd)
            assert len(spare) < 64, "the PTY's fd number was never reused"
        for extra in spare:
            os.close(extra)
        del child  # as an exited agent leaves memory
        gc.collect()
        return fd

    reused = asyncio.run(scenario())
    try:
        os.fstat(reused)  # still ours: not closed again by the child's file object
    finally:
        os.close(reused)
