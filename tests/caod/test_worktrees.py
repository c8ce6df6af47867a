"""Workers in their own git worktrees, end to end: real git repositories in temporary
folders, scripted agents calling the real MCP bridge (assign/handoff with use_worktree,
diff, merge), the real daemon.

Scripted agents have no file tools, so the test writes into a worker's worktree itself,
as the worker's CLI would.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from caoctl.client import RpcFailure
from caod.protocol import ErrorCode

SESSION = "w1"
WT_RULES = {"rules": [
    {"match": r"^assign-wt: (?P<task>.+)$",
     "mcp_call": {"server": "caod", "tool": "assign",
                  "args": {"agent_profile": "developer", "message": "{task}", "use_worktree": True}},
     "reply": "ASSIGNED {result_json}", "reply_error": "assign failed: {error}"},
    {"match": r"^handoff-wtdev: (?P<task>.+)$",
     "mcp_call": {"server": "caod", "tool": "handoff", "args": {"agent_profile": "wtdev", "message": "{task}"}},
     "reply": "HANDOFF {result_json}", "reply_error": "handoff failed: {error}"},
    {"match": r"^diff (?P<id>\w+)$",
     "mcp_call": {"server": "caod", "tool": "diff", "args": {"agent_id": "{id}"}},
     "reply": "DIFF {result_json}", "reply_error": "diff failed: {error}"},
    {"match": r"^merge (?P<id>\w+)$",
     "mcp_call": {"server": "caod", "tool": "merge", "args": {"agent_id": "{id}"}},
     "reply": "MERGE {result_json}", "reply_error": "merge failed: {error}"},
    {"match": r"^\[message from (?P<sender>\w+)\] (?P<body>.*)", "reply": "working on {body}"},
    {"match": r"^(?P<task>\w.*)$", "reply": "done {task}"},
]}
WTDEV = """---
name: wtdev
description: A developer whose workers get their own worktree
role: developer
worktree: true
---
You write code.
"""


@pytest.fixture
def wt_team(daemon_factory):
    d = daemon_factory.new(start=False)
    d.env["CAO_SCRIPTED_RULES"] = json.dumps(WT_RULES)
    return d.start()


def launch(client, cwd: Path, wait_status) -> str:
    r = client.call("session.launch", {"profile": "code_supervisor", "provider": "scripted", "session": SESSION,
                                       "cwd": str(cwd)}, timeout=30)
    wait_status(client, r.supervisor.id, "idle", timeout=20)
    return r.supervisor.id


def supervisor(client, text: str, prefix: str) -> dict:
    """The supervisor's turn on `text`; its answer `PREFIX {json}` as a dict."""
    r = client.call("session.send", {"session": SESSION, "text": text, "wait": True, "timeout": 60}, timeout=70)
    assert r.answer and r.answer.startswith(prefix + " "), r.answer
    return json.loads(r.answer.removeprefix(prefix + " "))


def worktrees(client) -> dict:
    return {w.agent: w for w in client.call("worktree.list", {"session": SESSION}).worktrees}


def test_parallel_workers_diff_merge_refuse_a_conflict_and_clean(daemon_factory, wt_team, git_repo, wait_status):
    c = wt_team.client()
    sup = launch(c, git_repo.path, wait_status)
    base = git_repo.head()
    a = supervisor(c, "assign-wt: task a", "ASSIGNED")["agent_id"]
    b = supervisor(c, "assign-wt: task b", "ASSIGNED")["agent_id"]
    wts = worktrees(c)
    assert set(wts) == {a, b}
    for agent_id, w in wts.items():
        assert w.branch == f"caod/{SESSION}/{agent_id}"
        assert w.path == os.path.join(os.path.realpath(wt_team.home), "worktrees", SESSION, agent_id)
        assert stat.S_IMODE(os.stat(w.path).st_mode) == 0o700
        assert stat.S_IMODE(os.stat(os.path.dirname(w.path)).st_mode) == 0o700
        assert (w.base, w.into, w.repo, w.changed, w.ahead, w.merged) == (base, "main", str(git_repo.path), 0, 0, False)
        assert c.call("agent.get", {"agent": agent_id}).cwd == w.path  # the worker runs there
        assert git_repo.git("rev-parse", "HEAD", cwd=w.path) == base
        assert git_repo.git("branch", "--show-current", cwd=w.path) == w.branch
    # Both edit the same line differently: a leaves its work uncommitted (and a new file), b commits.
    Path(wts[a].path, "shared.txt").write_text("line 1\nfrom a\n")
    Path(wts[a].path, "new_a.txt").write_text("new\n")
    Path(wts[b].path, "shared.txt").write_text("line 1\nfrom b\n")
    git_repo.git("commit", "--quiet", "-am", "b's change", cwd=wts[b].path)

    diff_a = supervisor(c, f"diff {a}", "DIFF")
    assert diff_a["files"] == 2 and "+from a" in diff_a["diff"] and "new_a.txt" in diff_a["diff"]
    assert "from b" not in diff_a["diff"]
    diff_b = supervisor(c, f"diff {b}", "DIFF")
    assert diff_b["files"] == 1 and "+from b" in diff_b["diff"] and "from a" not in diff_b["diff"]
    summary = c.call("worktree.diff", {"agent": a, "stat": True})
    assert "shared.txt" in summary.diff and "2 files changed" in summary.diff and "+from a" not in summary.diff
    assert "?? new_a.txt" in git_repo.git("status", "--porcelain", cwd=wts[a].path)  # its index was not touched
    wts = worktrees(c)
    assert (wts[a].changed, wts[a].uncommitted, wts[a].ahead) == (2, 2, 0)
    assert (wts[b].changed, wts[b].uncommitted, wts[b].ahead, wts[b].behind) == (1, 0, 1, 0)

    merged = supervisor(c, f"merge {a}", "MERGE")
    assert merged["merged"] is True and merged["into"] == "main" and merged["conflicts"] == []
    assert merged["committed"]  # a's uncommitted work was committed on its branch first
    assert git_repo.git("log", "-1", "--format=%s", merged["committed"]).startswith("caod: work of agent")
    assert git_repo.head() == merged["commit"] != base
    assert (git_repo.path / "shared.txt").read_text() == "line 1\nfrom a\n"
    assert (git_repo.path / "new_a.txt").read_text() == "new\n"
    assert git_repo.status() == ""
    head = git_repo.head()

    refused = supervisor(c, f"merge {b}", "MERGE")
    assert refused["merged"] is False and refused["conflicts"] == ["shared.txt"] and refused["commit"] == head
    assert git_repo.head() == head and git_repo.status() == ""  # the session's branch is as it was
    assert (git_repo.path / "shared.txt").read_text() == "line 1\nfrom a\n"
    assert not (git_repo.path / ".git" / "MERGE_HEAD").exists()
    wts = worktrees(c)
    assert wts[a].merged and not wts[b].merged and wts[b].behind == 1

    c.call("session.shutdown", {"session": SESSION}, timeout=60)
    for agent_id in (a, b):
        wait_status(c, agent_id, "exited", timeout=20)
        assert os.path.isdir(wts[agent_id].path)  # shutdown never deletes work
    cleaned = c.call("worktree.clean", {"session": SESSION}, timeout=60)
    assert [w.agent for w in cleaned.removed] == [a] and cleaned.removed[0].reason == "merged"
    assert [w.agent for w in cleaned.kept] == [b] and "not merged into main" in cleaned.kept[0].reason
    assert not os.path.exists(wts[a].path) and os.path.isdir(wts[b].path)
    assert git_repo.git("branch", "--list", wts[a].branch) == ""
    assert git_repo.git("branch", "--list", wts[b].branch).endswith(wts[b].branch)

    # The record outlives the daemon; --force then removes the unmerged one too.
    c.close()
    wt_team.stop()
    again = daemon_factory.same(wt_team)
    c2 = again.client()
    assert list(worktrees(c2)) == [b]
    forced = c2.call("worktree.clean", {"session": SESSION, "force": True}, timeout=60)
    assert [w.agent for w in forced.removed] == [b] and forced.kept == []
    assert not os.path.exists(wts[b].path) and git_repo.git("branch", "--list", wts[b].branch) == ""
    assert git_repo.git("worktree", "list", "--porcelain").count("worktree ") == 1
    assert git_repo.head() == head and git_repo.status() == ""


def test_profile_worktree_and_empty_work_is_cleaned(wt_team, git_repo, wait_status):
    c = wt_team.client()
    launch(c, git_repo.path, wait_status)
    c.call("profile.install", {"text": WTDEV})
    result = supervisor(c, "handoff-wtdev: look around", "HANDOFF")
    assert result["success"] is True and result["output"] == "done look around"
    (w,) = worktrees(c).values()
    assert w.agent == result["agent_id"] and w.branch == f"caod/{SESSION}/{w.agent}"
    wait_status(c, w.agent, "exited", timeout=20)  # a handoff's worker ends after its answer
    cleaned = c.call("worktree.clean", {}, timeout=60)
    assert [(x.agent, x.reason) for x in cleaned.removed] == [(w.agent, "empty")] and cleaned.kept == []
    assert not os.path.exists(w.path) and git_repo.status() == ""


def test_running_workers_keep_their_worktree_and_only_supervisors_merge(wt_team, git_repo, wait_status,
                                                                        agent_token):
    c = wt_team.client()
    sup = launch(c, git_repo.path, wait_status)
    a = supervisor(c, "assign-wt: task a", "ASSIGNED")["agent_id"]
    b = supervisor(c, "assign-wt: task b", "ASSIGNED")["agent_id"]
    wait_status(c, a, "idle", "completed", timeout=20)
    with pytest.raises(RpcFailure) as e:  # a worker may not merge a peer's work
        c.call("orch.merge", {"token": agent_token(c, a), "agent_id": b})
    assert e.value.code == ErrorCode.PERMISSION_DENIED and "only a supervisor" in e.value.message
    other = c.call("session.launch", {"profile": "code_supervisor", "provider": "scripted", "session": "w2",
                                      "cwd": str(git_repo.path)}, timeout=30).supervisor.id
    wait_status(c, other, "idle", timeout=20)
    with pytest.raises(RpcFailure) as e:  # nor may another session's supervisor
        c.call("orch.diff", {"token": agent_token(c, other), "agent_id": a})
    assert e.value.code == ErrorCode.PERMISSION_DENIED and "neither started" in e.value.message
    assert c.call("orch.diff", {"token": agent_token(c, sup), "agent_id": a}).files == 0
    with pytest.raises(RpcFailure) as e:
        c.call("worktree.diff", {"agent": sup})
    assert e.value.code == ErrorCode.NO_SUCH_WORKTREE and "has no worktree" in e.value.message
    cleaned = c.call("worktree.clean", {"force": True}, timeout=60)
    assert cleaned.removed == [] and {w.agent for w in cleaned.kept} == {a, b}
    assert all("running" in w.reason for w in cleaned.kept)


def test_a_folder_outside_git_is_a_clear_error(wt_team, tmp_path, wait_status, agent_token):
    plain = tmp_path / "plain"
    plain.mkdir()
    c = wt_team.client()
    sup = launch(c, plain, wait_status)
    r = c.call("session.send", {"session": SESSION, "text": "assign-wt: task", "wait": True, "timeout": 60},
               timeout=70)
    assert r.answer.startswith("assign failed: ") and "is not inside a git repository" in r.answer, r.answer
    with pytest.raises(RpcFailure) as e:
        c.call("orch.assign", {"token": agent_token(c, sup), "agent_profile": "developer", "message": "x",
                               "use_worktree": True})
    assert e.value.code == ErrorCode.NOT_A_REPOSITORY
    assert "\n" not in e.value.message and f"{plain} is not inside a git repository" in e.value.message
    assert [a.id for a in c.call("agent.list", {}).agents] == [sup]  # no worker was started
    assert c.call("worktree.list", {}).worktrees == []
    assert not (wt_team.home / "agents").exists() or os.listdir(wt_team.home / "agents") == [sup]


def test_nothing_is_left_half_done(wt_team, git_repo, wait_status, agent_token):
    (git_repo.path / "pkg").mkdir()
    c = wt_team.client()
    sup = launch(c, git_repo.path / "pkg", wait_status)  # a session folder inside the repository
    token = agent_token(c, sup)

    def assign(**kw):
        return c.call("orch.assign", {"token": token, "agent_profile": "developer", "message": "task",
                                      "use_worktree": True, **kw}, timeout=60).agent_id

    with pytest.raises(RpcFailure) as e:  # a worker that cannot start leaves no worktree, branch or row
        assign(provider="no_such_cli")
    assert e.value.code == ErrorCode.NO_SUCH_PROVIDER
    assert c.call("worktree.list", {}).worktrees == [] and git_repo.git("branch", "--list", "caod/*") == ""
    assert os.listdir(wt_team.home / "worktrees" / SESSION) == []
    assert git_repo.git("worktree", "list", "--porcelain").count("worktree ") == 1

    a = assign()
    (w,) = worktrees(c).values()
    assert c.call("agent.get", {"agent": a}).cwd == os.path.join(w.path, "pkg")  # the same place in its tree
    Path(w.path, "shared.txt").write_text("line 1\nfrom a\n")
    (git_repo.path / "shared.txt").write_text("line 1\nsomeone's edit in the session folder\n")
    head = git_repo.head()
    with pytest.raises(RpcFailure) as e:  # the session folder's own uncommitted edit would be overwritten
        c.call("worktree.merge", {"agent": a}, timeout=60)
    assert e.value.code == ErrorCode.GIT_FAILED and "left as it was" in e.value.message
    assert git_repo.head() == head and git_repo.git("status", "--porcelain") == "M shared.txt"
    assert (git_repo.path / "shared.txt").read_text() == "line 1\nsomeone's edit in the session folder\n"
    assert not (git_repo.path / ".git" / "MERGE_HEAD").exists()

    # A worktree folder deleted behind caod's back: its record goes, its branch (with a commit) stays.
    c.call("agent.kill", {"agent": a})
    wait_status(c, a, "exited", timeout=20)
    assert worktrees(c)[a].ahead == 1  # the refused merge committed its work on its branch first
    import shutil
    shutil.rmtree(w.path)
    assert worktrees(c)[a].present is False
    cleaned = c.call("worktree.clean", {}, timeout=60)
    assert [x.reason for x in cleaned.removed] == [f"folder already gone (branch {w.branch} kept)"]
    assert git_repo.git("branch", "--list", w.branch).endswith(w.branch)
    assert c.call("worktree.list", {}).worktrees == []
