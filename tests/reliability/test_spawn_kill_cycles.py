"""500 spawn/kill cycles of the scripted agent through a real daemon: memory and fds stay flat.

An exited agent leaves memory once its exit is committed (caod.exited), so the daemon's
size does not follow the number of agents it ever ran. Each cycle waits until the agent
has drawn its idle screen (the screen and detector are what an agent costs) and then
kills it; CONCURRENCY cycles run at once to stay well inside the time bound.

Margins. The daemon's heap grows for the first few hundred agents whatever we do (the
event ring of 1,000 recent events fills, SQLite's page cache warms, freed memory stays
with the allocator): measured 37 -> 55 MB over 500 cycles, then flat to within 0.1 MB
for 500 more. Keeping every exited agent cost 70-150 KB each (35-75 MB per 500). So:
over the last 250 of the 500 cycles RSS may grow by at most SLOPE_MARGIN (32 KB per
agent), over all 500 by at most TOTAL_MARGIN, and the fd count ends where it began
(FD_MARGIN for a connection still closing).
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

from caoctl.client import Client

CYCLES = 500
WARM_UP = 50
CONCURRENCY = 8
SLOPE_MARGIN_KB = 8 * 1024  # over the last 250 cycles
TOTAL_MARGIN_KB = 24 * 1024  # over all 500
FD_MARGIN = 2
TIME_BOUND_S = 55.0


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc status")


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_spawn_kill_cycles_keep_rss_and_fds_flat(daemon, spawn_scripted, wait_status):
    def cycle(_n: int) -> int:
        with Client(daemon.socket) as c:
            info = spawn_scripted(c)
            wait_status(c, info.id, "idle", timeout=30)
            killed = c.call("agent.kill", {"agent": info.id, "grace": 2}, timeout=30)
            assert killed.status.value == "exited", killed
            return info.pid

    def run(count: int) -> None:
        daemon.agent_pids.update(pool.map(cycle, range(count)))

    started = time.monotonic()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        run(WARM_UP)
        rss0, fds0 = rss_kb(daemon.pid), fd_count(daemon.pid)
        run(CYCLES // 2)
        rss_half = rss_kb(daemon.pid)
        run(CYCLES - CYCLES // 2)
        rss1, fds1 = rss_kb(daemon.pid), fd_count(daemon.pid)
    took = time.monotonic() - started
    c = daemon.client()
    status = c.call("daemon.status", {})
    assert (status.agents, status.agents_live) == (WARM_UP + CYCLES, 0)  # all still queryable
    grown = f"RSS {rss0} -> {rss_half} -> {rss1} KB, fds {fds0} -> {fds1}, {took:.1f} s"
    assert rss1 - rss_half <= SLOPE_MARGIN_KB, grown
    assert rss1 - rss0 <= TOTAL_MARGIN_KB, grown
    assert fds1 <= fds0 + FD_MARGIN, grown
    assert took < TIME_BOUND_S, grown
