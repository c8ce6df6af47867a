"""The MCP tools `diff` and `merge`: a supervisor reviews and takes a worker's worktree changes.

Registered on the bridge's server by caoctl.mcp_bridge; each is one orch.* call.
"""

from __future__ import annotations

from typing import Any

from caod.protocol import OrchDiffParams, OrchMergeParams
from caoctl.mcp_tool import BOOLEAN, INTEGER, STRING, Arg, Shape, Tool, array, nullable

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


DIFF_OUT = Shape("DiffOut", {"agent_id": STRING, "branch": STRING, "files": INTEGER, "diff": STRING,
                             "truncated": BOOLEAN}, optional=frozenset({"truncated"}))
MERGE_OUT = Shape("MergeOut", {"agent_id": STRING, "merged": BOOLEAN, "branch": STRING, "into": STRING,
                               "commit": nullable(STRING), "conflicts": array(STRING), "committed": STRING},
                  optional=frozenset({"committed"}))
WORKER_ARG = Arg("agent_id", STRING, "Id of the worker (started with use_worktree)")


def tools(link: Any) -> list[Tool]:
    """diff and merge, on the bridge's DaemonLink."""

    def diff(call, agent_id, stat):
        res = link.call("orch.diff", OrchDiffParams(token=link.require_token(), agent_id=agent_id, stat=stat),
                        CALL_TIMEOUT, call)
        out = {"agent_id": res.agent, "branch": res.branch, "files": res.files, "diff": res.diff}
        if res.truncated:
            out["truncated"] = True
        return out

    def merge(call, agent_id, squash):
        params = OrchMergeParams(token=link.require_token(), agent_id=agent_id, squash=squash)
        res = link.call("orch.merge", params, CALL_TIMEOUT, call)
        out = {"agent_id": res.agent, "merged": res.merged, "branch": res.branch, "into": res.into,
               "commit": res.commit, "conflicts": list(res.conflicts)}
        if res.committed:
            out["committed"] = res.committed
        return out

    return [
        Tool("diff", DIFF_DOC, "A worker's changes", [
            WORKER_ARG, Arg("stat", BOOLEAN, "A summary of changed files instead of the patch", False),
        ], DIFF_OUT, diff, read_only=True),
        Tool("merge", MERGE_DOC, "Merge a worker's changes", [
            WORKER_ARG, Arg("squash", BOOLEAN, "One new commit instead of a merge commit", False),
        ], MERGE_OUT, merge),
    ]
