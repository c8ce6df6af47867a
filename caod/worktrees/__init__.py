"""Each worker in its own git worktree: created at spawn, recorded in SQLite, diffed,
merged into the session's branch, cleaned up once its work is merged or empty.

The face the rest of caod uses is `Worktrees` (daemon.worktrees): `start` (the
orchestrator, for use_worktree workers), `repository` and `discard` (caod.fanout:
its check before any worker starts, its undo of those started), `list`, `diff`,
`merge`, `clean` (the worktree.* handlers) and `check_supervisor` (orch.diff /
orch.merge). A worktree lives in <home>/worktrees/<session>/<agent> on branch
caod/<session>/<agent>, made from the repository's HEAD. Nothing but `clean`
(or `discard`, for a worker undone as it starts) removes one: a shutdown, a
restart or the agent's exit keep its work.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Awaitable, Callable

from caod import paths
from caod.exited import ExitedAgent
from caod.protocol import ErrorCode
from caod.protocol.worktrees import CleanResult, DiffResult, MergeResult, WorktreeInfo
from caod.rpc import RpcError
from caod.worktrees import repo
from caod.worktrees.git import GitFailed

if TYPE_CHECKING:
    from caod.agent import Agent
    from caod.daemon import Daemon

# The table is created in caod.store's SCHEMA (with every other table).
COLUMNS = "agent, session, parent, repo, path, branch, base, created_at, merged_tip"


@dataclass
class Row:
    agent: str
    session: str
    parent: str | None
    repo: str
    path: str
    branch: str
    base: str
    created_at: float
    merged_tip: str | None


def _git_error(e: GitFailed) -> RpcError:
    return RpcError(ErrorCode.GIT_FAILED, str(e))


class Worktrees:
    def __init__(self, daemon: "Daemon"):
        self._d = daemon
        self._lock = asyncio.Lock()  # one change at a time: two merges must not race for one branch

    # ------------------------------------------------------------ creating

    async def start(self, session: str, cwd: str, parent: str, spawn: Callable[[str, str], Awaitable["Agent"]],
                    repository: tuple[str, str] | None = None) -> "Agent":
        """A worker running in a new worktree of the repository holding `cwd`; `spawn(folder, agent_id)`
        starts it. The worktree is recorded before the worker starts and removed if it cannot start.
        `repository`: what `repository(cwd)` said already (a fan-out's workers share one base)."""
        top, base = repository or await self.repository(cwd)
        agent_id = self._d.agents.new_id()
        folder = Path(os.path.realpath(self._d.home)) / "worktrees" / session
        paths.make_private_dirs(folder)
        row = Row(agent_id, session, parent, top, str(folder / agent_id), f"caod/{session}/{agent_id}", base,
                  time.time(), None)
        async with self._lock:  # registering reads the other worktrees' admin folders: one at a time
            try:
                await repo.add(top, row.path, row.branch, base)
            except GitFailed as e:
                raise _git_error(e) from None
        try:
            os.chmod(row.path, 0o700)  # git made it at our asking: only its user reads the work
            await repo.check_out(row.path)  # outside the lock: a fan-out's worktrees fill side by side
            async with self._lock:  # stored and started at once: a clean never sees it without its agent
                await self._d.store.commit(f"INSERT INTO worktrees ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)",
                                           (row.agent, row.session, row.parent, row.repo, row.path, row.branch,
                                            row.base, row.created_at, None))
                # The worker starts where the session's folder is inside the repository (git keeps
                # no empty or untracked folder: made if missing).
                inside = Path(row.path, os.path.relpath(cwd, top))
                paths.make_private_dirs(inside)
                return await spawn(str(inside), agent_id)
        except BaseException:
            async with self._lock:
                await repo.remove(top, row.path, row.branch)
            self._d.store.write("DELETE FROM worktrees WHERE agent=?", (agent_id,))
            raise

    async def repository(self, cwd: str) -> tuple[str, str]:
        """(top folder, HEAD's commit) of the repository holding `cwd`; NOT_A_REPOSITORY if there is none."""
        try:
            return await repo.top_level(cwd)
        except repo.NotARepository as e:
            raise RpcError(ErrorCode.NOT_A_REPOSITORY, str(e)) from None

    async def discard(self, agent_id: str) -> None:
        """Remove a worker's worktree, branch and record, work and all: for a worker that is undone
        as soon as it started (a fan-out that could not start all its workers). Its agent has exited."""
        rows = await self._d.store.fetchall(f"SELECT {COLUMNS} FROM worktrees WHERE agent=?", (agent_id,))
        if not rows:
            return
        row = Row(*rows[0])
        async with self._lock:
            try:
                await repo.remove(row.repo, row.path, row.branch)
            except GitFailed as e:
                raise _git_error(e) from None
            await self._d.store.commit("DELETE FROM worktrees WHERE agent=?", (agent_id,))

    # ------------------------------------------------------------ reading

    async def _rows(self, session: str | None = None) -> list[Row]:
        where, args = ("WHERE session=?", (session,)) if session else ("", ())
        rows = await self._d.store.fetchall(f"SELECT {COLUMNS} FROM worktrees {where} ORDER BY created_at", args)
        return [Row(*r) for r in rows]

    async def _row(self, ref: str) -> Row:
        rows = await self._d.store.fetchall(f"SELECT {COLUMNS} FROM worktrees WHERE agent=?", (ref,))
        if not rows:
            try:  # a name or an id prefix, as every other command takes
                found = (await self._d.agents.lookup(ref)).id
            except RpcError:
                found = None
            if found:
                rows = await self._d.store.fetchall(f"SELECT {COLUMNS} FROM worktrees WHERE agent=?", (found,))
        if not rows:
            raise RpcError(ErrorCode.NO_SUCH_WORKTREE, f"agent {ref} has no worktree")
        return Row(*rows[0])

    async def _status(self, agent_id: str) -> str:
        try:
            agent = await self._d.agents.lookup(agent_id)
        except RpcError:
            return "gone"
        return "exited" if isinstance(agent, ExitedAgent) else agent.status.value

    async def info(self, row: Row) -> WorktreeInfo:
        info = WorktreeInfo(row.agent, row.session, row.branch, row.path, row.repo, row.base,
                            await self._status(row.agent), present=os.path.isdir(row.path))
        if not info.present or not os.path.isdir(row.repo):
            info.present = False
            return info
        try:
            info.into = await repo.current_branch(row.repo)
            tip = await repo.tip(row.repo, row.branch)
            info.changed = await repo.changed_files(row.path, row.base)
            info.uncommitted = await repo.uncommitted(row.path)
            if info.into:
                info.ahead, info.behind = await repo.ahead_behind(row.repo, row.branch, info.into)
                in_into = row.merged_tip == tip or await repo.is_ancestor(row.repo, tip, f"refs/heads/{info.into}")
                info.merged = info.uncommitted == 0 and in_into and (info.changed > 0 or info.ahead > 0)
        except GitFailed as e:
            info.reason = str(e)
        return info

    async def list(self, session: str | None = None) -> list[WorktreeInfo]:
        return [await self.info(row) for row in await self._rows(session)]

    async def diff(self, ref: str, stat: bool = False) -> DiffResult:
        row = await self._row(ref)
        if not os.path.isdir(row.path):
            raise RpcError(ErrorCode.NO_SUCH_WORKTREE, f"the worktree of agent {row.agent} is gone: {row.path}")
        try:
            text, files, cut = await repo.diff(row.path, row.base, stat)
        except GitFailed as e:
            raise _git_error(e) from None
        return DiffResult(row.agent, row.branch, row.base, files, text, truncated=cut)

    # ------------------------------------------------------------ changing

    async def merge(self, ref: str, squash: bool = False) -> MergeResult:
        row = await self._row(ref)
        async with self._lock:
            if not os.path.isdir(row.path) or not os.path.isdir(row.repo):
                raise RpcError(ErrorCode.NO_SUCH_WORKTREE, f"the worktree of agent {row.agent} is gone: {row.path}")
            try:
                into = await repo.current_branch(row.repo)
                if into is None:
                    raise RpcError(ErrorCode.GIT_FAILED, f"the session's repository {row.repo} has no branch "
                                   "checked out (a detached HEAD): check out the branch to merge into")
                committed = await repo.commit_all(
                    row.path, f"caod: work of agent {row.agent} left uncommitted, committed before a merge")
                how = "squash" if squash else "merge"
                done = await repo.merge(row.repo, row.branch, into, squash,
                                        f"caod: {how} {row.branch} (agent {row.agent}) into {into}")
                tip = await repo.tip(row.repo, row.branch)
            except GitFailed as e:
                raise _git_error(e) from None
            if not done.conflicts:
                await self._d.store.commit("UPDATE worktrees SET merged_tip=? WHERE agent=?", (tip, row.agent))
        return MergeResult(row.agent, not done.conflicts, row.branch, into, squash=squash, commit=done.commit,
                           conflicts=done.conflicts, committed=committed, fast_forward=done.fast_forward,
                           up_to_date=done.up_to_date)

    async def clean(self, session: str | None = None, force: bool = False) -> CleanResult:
        removed, kept = [], []
        async with self._lock:
            for row in await self._rows(session):
                info = await self.info(row)
                status = info.status
                if status not in ("exited", "gone"):
                    info.reason = f"its agent is running ({status})"
                elif info.reason and not force:  # git could not read it: nothing says it is empty
                    info.reason = f"could not read it: {info.reason}"
                elif not os.path.isdir(row.repo) and os.path.isdir(row.path) and not force:
                    info.reason = f"its repository {row.repo} is gone: the folder's work would be lost"
                elif info.present and not force and not info.merged and (info.changed or info.ahead):
                    info.reason = info.reason or _unmerged(info)
                else:
                    # A folder deleted behind caod's back may leave commits on its branch: kept unless forced.
                    keep_branch = not info.present and not force
                    info.reason = ("merged" if info.merged else f"folder already gone (branch {row.branch} kept)"
                                   if keep_branch else "removed by force: " + _unmerged(info)
                                   if info.changed or info.ahead else "empty")
                    try:
                        await repo.remove(row.repo, row.path, row.branch, delete_branch=not keep_branch)
                    except GitFailed as e:
                        info.reason = f"could not remove it: {e}"
                        kept.append(info)
                        continue
                    await self._d.store.commit("DELETE FROM worktrees WHERE agent=?", (row.agent,))
                    try:
                        os.rmdir(os.path.dirname(row.path))  # the session's folder, once empty
                    except OSError:
                        pass
                    removed.append(info)
                    continue
                kept.append(info)
        return CleanResult(removed, kept)

    # ------------------------------------------------------------ who may

    async def check_supervisor(self, caller: "Agent", ref: str) -> str:
        """The worker's id, if `caller` started it or supervises its session; else refused."""
        row = await self._row(ref)
        session = self._d.sessions.sessions.get(row.session)
        supervises = session is not None and caller.id == session.supervisor
        if caller.session != row.session or (caller.id != row.parent and not supervises):
            raise RpcError(ErrorCode.PERMISSION_DENIED, f"permission denied: agent {caller.id} neither started "
                           f"agent {row.agent} nor supervises its session")
        return row.agent


def _unmerged(info: WorktreeInfo) -> str:
    what = f"{info.changed} changed file{'s' if info.changed != 1 else ''}"
    if info.uncommitted:
        what += f" ({info.uncommitted} uncommitted)"
    return f"{what} not merged into {info.into or 'the session branch'}"
