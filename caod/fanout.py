"""Fan-out: one `assign` gives the same task to several workers at once, each in its own
git worktree (several workers in one folder would clash), so a supervisor can compare
their answers with get_result per worker.

`providers: [a, b]` starts one worker per entry (a name may repeat), `count: N` starts N
workers of the assign's provider (or its profile's). It is all or nothing: the request
is checked whole before any worker starts, the workers start together, and if one cannot
start (or its task cannot be stored) those already started are ended and their
worktrees and branches removed before the call fails with the cause.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Awaitable, Callable

import providers as provider_registry
from caod.launching import working_directory
from caod.logs import log
from caod.protocol import AssignParams, ErrorCode
from caod.rpc import RpcError

if TYPE_CHECKING:
    from caod.agent import Agent
    from caod.daemon import Daemon
    from caod.sessions import Session

MAX_WORKERS = 8
UNDO_GRACE_S = 3.0  # an undone worker gets this long to stop on SIGTERM before SIGKILL


def _refuse(why: str) -> RpcError:
    return RpcError(ErrorCode.INVALID_PARAMS, f"fan-out refused: {why}")


@dataclass
class Plan:
    providers: list[str | None]  # each worker's (None: the profile's, else the caller's)
    repository: tuple[str, str]  # (top folder, HEAD): every worker's worktree starts from the same commit


async def plan(daemon: "Daemon", p: AssignParams, session: "Session") -> Plan | None:
    """What a fan-out starts, or None for a plain assign. Everything that would stop a
    worker before it runs is checked here, before any starts."""
    if p.providers is None and p.count is None:
        return None
    if p.providers is not None and p.count is not None:
        raise _refuse("give providers or count, not both")
    if p.providers is not None:
        if p.provider is not None:
            raise _refuse("give provider or providers, not both")
        if not p.providers:
            raise _refuse("providers is empty: name at least one provider")
        wanted: list[str | None] = list(p.providers)
    else:
        if not 1 <= p.count <= MAX_WORKERS:
            raise _refuse(f"count must be 1 to {MAX_WORKERS} (got {p.count})")
        wanted = [p.provider] * p.count
    if len(wanted) > MAX_WORKERS:
        raise _refuse(f"at most {MAX_WORKERS} workers at once (got {len(wanted)} providers)")
    for name in dict.fromkeys(n for n in wanted if n is not None):
        try:
            provider_registry.get(name)
        except (provider_registry.UnknownProvider, provider_registry.BadProvider) as e:
            raise RpcError(ErrorCode.NO_SUCH_PROVIDER, f"fan-out refused: {e}") from None
    daemon.sessions.profile(p.agent_profile)  # NO_SUCH_PROFILE / INVALID_PROFILE
    return Plan(wanted, await daemon.worktrees.repository(working_directory(p.working_directory, session.cwd)))


async def start(daemon: "Daemon", starts: list[Callable[[], Awaitable["Agent"]]],
                give_task: Callable[["Agent"], Awaitable[object]]) -> list["Agent"]:
    """Every worker started and given its task, in order; or none (see the module's doc).

    Shielded from the caller: one hanging up mid-way must not leave some workers started
    and others not, so the fan-out runs to its end (all started, or all undone) without it."""
    work = asyncio.ensure_future(_all_or_none(daemon, starts, give_task))
    work.add_done_callback(lambda t: t.cancelled() or t.exception())  # seen, if nobody waits any more
    return await asyncio.shield(work)


async def _all_or_none(daemon: "Daemon", starts: list[Callable[[], Awaitable["Agent"]]],
                       give_task: Callable[["Agent"], Awaitable[object]]) -> list["Agent"]:
    outcomes = await asyncio.gather(*(begin() for begin in starts), return_exceptions=True)
    workers = [o for o in outcomes if not isinstance(o, BaseException)]
    failed = next((o for o in outcomes if isinstance(o, BaseException)), None)
    try:
        if failed is not None:
            raise failed
        for worker in workers:
            await give_task(worker)
    except BaseException:
        await _undo(daemon, workers)
        raise
    return workers


async def _undo(daemon: "Daemon", workers: list["Agent"]) -> None:
    """End the workers and remove their worktrees and branches: nothing half-started is left."""
    daemon.notices.expect_exit([w.id for w in workers])  # caod ends them: no "exited" notice to the parent
    await asyncio.gather(*(w.terminate(UNDO_GRACE_S) for w in workers), return_exceptions=True)
    for worker in workers:
        try:
            await daemon.worktrees.discard(worker.id)
        except Exception as e:  # the call still fails with its own cause; this is logged for people
            log.error("could not remove an undone worker's worktree", agent=worker.id, error=str(e))
