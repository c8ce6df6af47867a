"""Memory scopes, narrowest first, and who sees which.

- agent: the profile's name (every agent started from that profile, in any session);
- session: the session's name;
- project: the git repository root of the working folder, else the folder;
- global: everyone ("" as owner).

An agent sees its own four; a session's memories are not seen from another session
unless they were stored `project` or `global`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from caod.protocol import ErrorCode
from caod.rpc import RpcError

SCOPES = ("agent", "session", "project", "global")  # narrowest first


@dataclass(frozen=True)
class Place:
    """Where a caller stands: what each scope means for it (None: it has none)."""

    profile: str | None = None
    session: str | None = None
    project: str | None = None

    def owner(self, scope: str) -> str | None:
        return {"agent": self.profile, "session": self.session, "project": self.project, "global": ""}[scope]

    def visible(self, only: str | None = None) -> list[tuple[str, str]]:
        """(scope, owner) pairs this caller sees, narrowest first."""
        pairs = [(s, self.owner(s)) for s in SCOPES if only is None or s == only]
        return [(s, o) for s, o in pairs if o is not None]


def check_scope(scope: str | None) -> None:
    if scope is not None and scope not in SCOPES:
        raise RpcError(ErrorCode.INVALID_PARAMS, f"unknown scope {scope!r} (one of: {', '.join(SCOPES)})")


def project_root(folder: str) -> str:
    """The git repository root that holds `folder`, else the folder. A linked worktree (a
    worker's, caod.worktrees) belongs to its main repository: one project for the team."""
    path = os.path.realpath(folder)
    probe = path
    while True:
        dot_git = os.path.join(probe, ".git")
        if os.path.isdir(dot_git):
            return probe
        if os.path.isfile(dot_git):
            return _main_of_worktree(dot_git) or probe
        parent = os.path.dirname(probe)
        if parent == probe:
            return path
        probe = parent


def _main_of_worktree(dot_git_file: str) -> str | None:
    """`gitdir: /repo/.git/worktrees/<name>` -> /repo."""
    try:
        with open(dot_git_file, encoding="utf-8", errors="replace") as fh:
            line = fh.readline(4096).strip()
    except OSError:
        return None
    gitdir = line.removeprefix("gitdir:").strip()
    marker = os.sep + os.path.join(".git", "worktrees") + os.sep
    if not line.startswith("gitdir:") or marker not in gitdir:
        return None
    return os.path.realpath(gitdir.split(marker, 1)[0])
