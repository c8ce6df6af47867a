"""The daemon raises its own open-files limit for many agents; its agents keep the one it was started with."""

from __future__ import annotations

import resource

import pytest

from caod import fdlimit


def soft_nofile(pid: int) -> int:
    with open(f"/proc/{pid}/limits", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("Max open files"):
                return int(line.split()[3])
    raise AssertionError("no open-files line")


def test_daemon_has_room_for_hundreds_of_agents_and_agents_keep_the_limit_they_were_given(daemon_factory, ready_agent):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 1024:
        pytest.skip(f"the hard limit ({hard}) leaves nothing to raise")
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))  # the daemon inherits it (systemd's default)
    try:
        d = daemon_factory.new()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    expected = fdlimit.WANTED if hard == resource.RLIM_INFINITY else min(fdlimit.WANTED, hard)
    assert soft_nofile(d.pid) == expected
    agent = ready_agent(d.client())
    assert soft_nofile(agent.pid) == 1024
