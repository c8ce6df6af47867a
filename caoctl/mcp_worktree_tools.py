"""The MCP tools `diff` and `merge`: a supervisor reviews and takes a worker's worktree changes.

Registered on the bridge's server by caoctl.mcp_bridge; each is one orch.* call.
"""

from __future__ import annotations

from typing import Annotated, Any

from mcp.types import ToolAnnotations
from pydantic import Field
from typing_extensions import NotRequired, TypedDict

from caod.protocol import OrchDiffParams, OrchMergeParams

CALL_TIMEOUT = 180.0  # git on a big repository takes a while

DIFF_DOC = (
    "Show the changes a worker made in its own git worktree (one started with use_worktree), committed "
    "or not, against the commit its worktree started from. `stat`: a summary of changed files instead of "
    "the patch. Returns {agent_id, branch, files, diff} (and truncated: true when the patch was cut)."
)
MERGE_DOC = (
    "Merge a worker's worktree branch into the session's branch (the branch checked out in the "
    "session's folder). Its uncommitted changes are committed on its branch first. `squash`: one new "
    "commit instead of a merge. On conflicts nothing is changed: merged is false and conflicts lists "
    "the paths. Returns {agent_id, merged, branch, into, commit, conflicts}."
)


class DiffOut(TypedDict):
    agent_id: str
    branch: str
    files: int
    diff: str
    truncated: NotRequired[bool]


class MergeOut(TypedDict):
    agent_id: str
    merged: bool
    branch: str
    into: str
    commit: str | None
    conflicts: list[str]
    committed: NotRequired[str]


def register(server: Any, link: Any) -> None:
    @server.tool(description=DIFF_DOC, annotations=ToolAnnotations(title="A worker's changes", read_only_hint=True))
    async def diff(
        agent_id: Annotated[str, Field(description="Id of the worker (started with use_worktree)")],
        stat: Annotated[bool, Field(description="A summary of changed files instead of the patch")] = False,
    ) -> DiffOut:
        res = await link.call("orch.diff", OrchDiffParams(token=link.require_token(), agent_id=agent_id, stat=stat),
                              CALL_TIMEOUT)
        out = DiffOut(agent_id=res.agent, branch=res.branch, files=res.files, diff=res.diff)
        if res.truncated:
            out["truncated"] = True
        return out

    @server.tool(description=MERGE_DOC, annotations=ToolAnnotations(title="Merge a worker's changes"))
    async def merge(
        agent_id: Annotated[str, Field(description="Id of the worker (started with use_worktree)")],
        squash: Annotated[bool, Field(description="One new commit instead of a merge commit")] = False,
    ) -> MergeOut:
        params = OrchMergeParams(token=link.require_token(), agent_id=agent_id, squash=squash)
        res = await link.call("orch.merge", params, CALL_TIMEOUT)
        out = MergeOut(agent_id=res.agent, merged=res.merged, branch=res.branch, into=res.into, commit=res.commit,
                       conflicts=list(res.conflicts))
        if res.committed:
            out["committed"] = res.committed
        return out
