"""Room for many agents' file descriptors, without changing what the agents get.

Each agent holds about three descriptors in the daemon (its PTY, its pidfd, its
transcript), plus its MCP bridge's and hooks' connections while they run: 200
agents use about 650. The common soft limit is 1024 (systemd's default for
services), so the daemon raises its own soft limit towards the hard one at start.
Its agents are given back the limit the daemon was started with: a CLI sees the
same limits as when a person starts it.
"""

from __future__ import annotations

import resource

WANTED = 16384  # enough for thousands of agents; more only costs the kernel's fd table
_started_with: tuple[int, int] | None = None


def raise_soft_limit() -> tuple[int, int]:
    """Raise RLIMIT_NOFILE's soft limit to min(WANTED, hard); returns (before, now)."""
    global _started_with
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    _started_with = (soft, hard)
    target = WANTED if hard == resource.RLIM_INFINITY else min(WANTED, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            return soft, soft
        return soft, target
    return soft, soft


def restore_in_child() -> None:
    """In a forked agent before its exec: the limit the daemon was started with."""
    if _started_with is not None and resource.getrlimit(resource.RLIMIT_NOFILE) != _started_with:
        resource.setrlimit(resource.RLIMIT_NOFILE, _started_with)
