"""Params and results of worktree.* (people) and orch.diff / orch.merge (a supervisor, with its token)."""

from __future__ import annotations

from caod.protocol.wire import Params, Result


class WorktreeInfo(Result, omit_defaults=True):
    agent: str
    session: str
    branch: str
    path: str
    repo: str  # the session's repository folder, whose checked-out branch a merge goes into
    base: str  # the commit the worktree was created from
    status: str  # the agent's: a live status, "exited", or "gone" (its record was removed)
    present: bool = True  # False: the folder was deleted behind caod's back
    into: str | None = None  # the session's branch now; None when its HEAD is detached
    changed: int = 0  # files changed against base, committed or not (untracked ones too)
    uncommitted: int = 0  # of those, files not committed on the worker's branch
    ahead: int = 0  # commits on the worker's branch not on `into`
    behind: int = 0  # commits on `into` not on the worker's branch
    merged: bool = False  # everything it holds is in `into`
    reason: str | None = None  # worktree.clean: why it was kept (or removed)


class WorktreeListParams(Params):
    """The worktrees of one session, or of every session."""

    session: str | None = None


class WorktreeList(Result):
    worktrees: list[WorktreeInfo]


class WorktreeDiffParams(Params):
    """A worker's changes, committed or not, against the commit its worktree started from."""

    agent: str
    stat: bool = False  # a diffstat instead of the patch


class DiffResult(Result, omit_defaults=True):
    agent: str
    branch: str
    base: str
    files: int  # files changed
    diff: str  # the patch (or the diffstat); "" when nothing changed
    truncated: bool = False  # the patch was cut at the size a reply may carry


class WorktreeMergeParams(Params):
    """Merge a worker's branch into the session's branch; refused (nothing changed) on conflicts."""

    agent: str
    squash: bool = False  # one new commit on the session's branch instead of a merge


class MergeResult(Result, omit_defaults=True):
    agent: str
    merged: bool
    branch: str
    into: str
    squash: bool = False
    commit: str | None = None  # the session branch's new head (merged) or its unchanged head (refused)
    conflicts: list[str] = []  # paths that conflict: the merge was refused and nothing was changed
    committed: str | None = None  # the commit caod made of the worker's uncommitted changes first
    fast_forward: bool = False
    up_to_date: bool = False  # the session's branch had it all already


class WorktreeCleanParams(Params):
    """Remove worktrees of exited workers whose work is merged or empty; `force`: unmerged ones too."""

    session: str | None = None
    force: bool = False


class CleanResult(Result):
    removed: list[WorktreeInfo]
    kept: list[WorktreeInfo]  # each with its reason


class OrchDiffParams(Params):
    """orch.diff: a supervisor reads the changes of a worker it started (or of its session)."""

    token: str
    agent_id: str
    stat: bool = False


class OrchMergeParams(Params):
    """orch.merge: a supervisor takes a worker's changes into the session's branch."""

    token: str
    agent_id: str
    squash: bool = False
