"""The git side of worktrees: create one, read its changes, commit them, merge them.

Reading never touches a worktree's index: its changes (untracked files
included) are staged into a copy of the index in a temporary folder. Merging
computes the result with `git merge-tree` first; only a clean result moves the
session's branch, by a fast-forward of its checkout to a commit made for it, so
a refused merge leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import AsyncIterator

from caod.worktrees import git
from caod.worktrees.git import GitFailed

MAX_DIFF_BYTES = 512 * 1024  # a reply line is at most 1 MiB


class NotARepository(Exception):
    pass


async def top_level(folder: str) -> tuple[str, str]:
    """(the repository's top folder, HEAD's commit) for a folder inside a work tree."""
    try:
        top = await git.out(folder, "rev-parse", "--show-toplevel")
    except GitFailed:
        raise NotARepository(f"{folder} is not inside a git repository (a worktree needs one: run git init "
                             "and commit, or start the worker without use_worktree)") from None
    if not top:
        raise NotARepository(f"{folder} is not inside a git work tree")
    try:
        head = await git.out(top, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    except GitFailed:
        raise NotARepository(f"the git repository at {top} has no commit yet: commit once, then try again") from None
    return os.path.realpath(top), head


async def add(repo: str, path: str, branch: str, base: str) -> None:
    """Register a worktree on a new branch, its files not yet checked out (see `check_out`).

    Registering reads the admin folders of the repository's other worktrees, and fails on
    one another `add` is still making (seen, two side by side: "failed to read
    .git/worktrees/<id>/commondir"): the caller makes them one at a time."""
    await git.run(repo, "worktree", "add", "--quiet", "--no-checkout", "-b", branch, path, base)


async def check_out(path: str) -> None:
    """Write a registered worktree's index and files from its branch: the slow part on a big
    repository, and safe beside other worktrees' (each has its own folder and index)."""
    await git.run(path, "reset", "--quiet", "--hard")


async def remove(repo: str, path: str, branch: str, delete_branch: bool = True) -> None:
    """The worktree (and its branch); what git no longer knows is removed from disk anyway."""
    if os.path.isdir(repo):
        try:
            await git.run(repo, "worktree", "remove", "--force", "--force", path)
        except GitFailed:
            await git.run(repo, "worktree", "prune", ok=(0, 128))
        if delete_branch:
            await git.run(repo, "branch", "-D", branch, ok=(0, 1))
    shutil.rmtree(path, ignore_errors=True)


async def current_branch(repo: str) -> str | None:
    code, out = await git.run(repo, "symbolic-ref", "--quiet", "--short", "HEAD", ok=(0, 1))
    return out.strip() if code == 0 and out.strip() else None


async def tip(repo: str, branch: str) -> str:
    return await git.out(repo, "rev-parse", "--verify", f"refs/heads/{branch}^{{commit}}")


async def is_ancestor(repo: str, older: str, newer: str) -> bool:
    code, _ = await git.run(repo, "merge-base", "--is-ancestor", older, newer, ok=(0, 1))
    return code == 0


async def ahead_behind(repo: str, branch: str, into: str) -> tuple[int, int]:
    out = await git.out(repo, "rev-list", "--left-right", "--count", f"refs/heads/{into}...refs/heads/{branch}")
    behind, ahead = (int(n) for n in out.split())
    return ahead, behind


async def uncommitted(path: str) -> int:
    """Files in the worktree that differ from its branch's head (untracked ones too)."""
    out = await git.out(path, "status", "--porcelain", "--untracked-files=all", "--no-renames", "-z")
    return sum(1 for entry in out.split("\0") if entry)


@asynccontextmanager
async def snapshot(path: str) -> AsyncIterator[dict[str, str]]:
    """An environment whose index holds the worktree as it is now, the real index untouched."""
    real = await git.out(path, "rev-parse", "--path-format=absolute", "--git-path", "index")
    with tempfile.TemporaryDirectory(prefix="caod-index-") as tmp:
        env = {"GIT_INDEX_FILE": os.path.join(tmp, "index")}
        if os.path.exists(real):
            shutil.copyfile(real, env["GIT_INDEX_FILE"])  # keeps git's stat cache: no rehash of every file
        else:
            await git.run(path, "read-tree", "HEAD", env=env)
        await git.run(path, "add", "--all", env=env)
        yield env


async def changed_files(path: str, base: str) -> int:
    async with snapshot(path) as env:
        out = await git.out(path, "diff", "--cached", "--name-only", "-z", "--no-renames", base, env=env)
    return sum(1 for name in out.split("\0") if name)


async def diff(path: str, base: str, stat: bool) -> tuple[str, int, bool]:
    """(patch or diffstat, files changed, truncated) of the worktree against `base`."""
    async with snapshot(path) as env:
        names = await git.out(path, "diff", "--cached", "--name-only", "-z", "--no-renames", base, env=env)
        shape = ["--stat=200"] if stat else ["--patch", "--binary"]
        _, text = await git.run(path, "-c", "core.quotepath=off", "diff", "--cached", "--no-color", "--no-ext-diff",
                                *shape, base, env=env)
    files = sum(1 for name in names.split("\0") if name)
    data = text.encode()
    if len(data) <= MAX_DIFF_BYTES:
        return text, files, False
    return data[:MAX_DIFF_BYTES].decode("utf-8", "ignore"), files, True


async def commit_all(path: str, message: str) -> str | None:
    """Commit everything uncommitted in the worktree on its branch; the new commit, or None if clean."""
    if not await uncommitted(path):
        return None
    env = await git.identity(path)
    await git.run(path, "add", "--all", env=env)
    await git.run(path, "commit", "--quiet", "--no-verify", "-m", message, env=env)
    return await git.out(path, "rev-parse", "HEAD")


@dataclass
class Merged:
    commit: str  # the new head of `into`, or its head as it was when refused
    conflicts: list[str]
    fast_forward: bool = False
    up_to_date: bool = False


async def merge(repo: str, branch: str, into: str, squash: bool, message: str) -> Merged:
    """Merge `branch` into `into` (checked out in `repo`); conflicts refuse it with nothing changed."""
    head, theirs = await tip(repo, into), await tip(repo, branch)
    if await is_ancestor(repo, theirs, head):
        return Merged(head, [], up_to_date=True)
    if not squash and await is_ancestor(repo, head, theirs):
        new, fast = theirs, True
    else:
        code, out = await git.run(repo, "merge-tree", "--write-tree", "--name-only", "--no-messages", head, theirs,
                                  ok=(0, 1))
        lines = out.splitlines()
        if code == 1:
            return Merged(head, sorted({line for line in lines[1:] if line}))
        parents = ["-p", head] if squash else ["-p", head, "-p", theirs]
        env = await git.identity(repo)
        new, fast = await git.out(repo, "commit-tree", lines[0], *parents, "-m", message, env=env), False
    # A fast-forward of the checkout: it moves branch, index and files together, and refuses
    # (changing nothing) if someone's uncommitted edits in the session's folder would be overwritten.
    try:
        await git.run(repo, "merge", "--ff-only", "--quiet", "--no-edit", new)
    except GitFailed as e:
        raise GitFailed(f"{e} (the session's folder {repo} was left as it was)") from None
    return Merged(new, [], fast_forward=fast)
