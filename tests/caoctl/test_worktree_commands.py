"""caoctl worktree list|clean, diff, merge: the real caoctl against a real daemon whose
workers run in worktrees of a real git repository."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

SESSION = "wc"


@pytest.fixture
def two_workers(daemon, git_repo, wait_status, agent_token):
    """A session in `git_repo` with two use_worktree workers that edited shared.txt differently."""
    c = daemon.client()
    sup = c.call("session.launch", {"profile": "code_supervisor", "provider": "scripted", "session": SESSION,
                                    "cwd": str(git_repo.path)}, timeout=30).supervisor.id
    wait_status(c, sup, "idle", timeout=20)
    token = agent_token(c, sup)
    ids = [c.call("orch.assign", {"token": token, "agent_profile": "developer", "message": f"task {n}",
                                  "use_worktree": True}, timeout=60).agent_id for n in "ab"]
    paths = {w.agent: Path(w.path) for w in c.call("worktree.list", {}).worktrees}
    for agent_id, text in zip(ids, ("from a", "from b")):  # as each worker's CLI would edit
        (paths[agent_id] / "shared.txt").write_text(f"line 1\n{text}\n")
    return c, ids, paths


def test_list_diff_merge_and_clean(daemon, git_repo, two_workers, caoctl, caoctl_json, one_line_error, wait_status):
    c, (a, b), paths = two_workers
    r = caoctl(daemon, "worktree", "list", "--session", SESSION)
    assert r.returncode == 0, r.stderr
    header, *lines = r.stdout.splitlines()
    assert header.split() == ["AGENT", "SESSION", "STATUS", "BRANCH", "CHANGED", "AHEAD/BEHIND", "PATH"]
    assert len(lines) == 2 and all("1 file (1 uncommitted)" in line and "+0/-0" in line for line in lines)
    assert any(line.startswith(a) and f"caod/{SESSION}/{a}" in line and str(paths[a]) in line for line in lines)
    listed = caoctl_json(daemon, "worktree", "list")
    assert {w["agent"]: (w["branch"], w["changed"], w["into"]) for w in listed} == {
        a: (f"caod/{SESSION}/{a}", 1, "main"), b: (f"caod/{SESSION}/{b}", 1, "main")}

    r = caoctl(daemon, "diff", a)
    assert r.returncode == 0 and "+from a" in r.stdout and "-line 1" not in r.stdout and "from b" not in r.stdout
    r = caoctl(daemon, "diff", b, "--stat")
    assert r.returncode == 0 and "shared.txt" in r.stdout and "1 file changed" in r.stdout
    assert "+from b" not in r.stdout

    r = caoctl(daemon, "merge", a)
    assert r.returncode == 0, r.stderr
    assert f"committed the worker's uncommitted changes on caod/{SESSION}/{a}" in r.stdout
    assert f"fast-forwarded caod/{SESSION}/{a} into main" in r.stdout
    assert (git_repo.path / "shared.txt").read_text() == "line 1\nfrom a\n" and git_repo.status() == ""
    head = git_repo.head()
    r = caoctl(daemon, "merge", b, "--squash")
    one_line_error(r, code=1, contains=f"merge of caod/{SESSION}/{b} into main refused: 1 conflicting path: "
                                       "shared.txt (nothing was changed; the worker's uncommitted changes were "
                                       f"committed on caod/{SESSION}/{b} first)")
    r = caoctl(daemon, "merge", b, "--json")
    assert r.returncode == 1 and json.loads(r.stdout)["conflicts"] == ["shared.txt"]
    assert json.loads(r.stderr)["error"]["exit_code"] == 1
    assert git_repo.head() == head and git_repo.status() == ""

    r = caoctl(daemon, "worktree", "clean")  # both still run: nothing removed
    assert r.returncode == 0 and r.stdout.startswith("kept 2 worktrees:") and "its agent is running" in r.stdout
    c.call("session.shutdown", {"session": SESSION}, timeout=60)
    for agent_id in (a, b):
        wait_status(c, agent_id, "exited", timeout=20)
    r = caoctl(daemon, "worktree", "clean", "--session", SESSION)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == f"removed 1 worktree: {a} (merged)"
    assert "kept 1 worktree:" in r.stdout
    assert "1 changed file not merged into main" in r.stdout and b in r.stdout
    assert not paths[a].exists() and paths[b].is_dir()
    forced = caoctl_json(daemon, "worktree", "clean", "--force")
    assert [w["agent"] for w in forced["removed"]] == [b] and forced["kept"] == []
    assert not paths[b].exists()
    r = caoctl(daemon, "worktree", "list")
    assert r.returncode == 0 and r.stdout.strip() == "no worktrees"


def test_errors_are_one_line(daemon, git_repo, caoctl, one_line_error, tmp_path):
    one_line_error(caoctl(daemon, "diff", "nosuch"), code=1, contains="has no worktree")
    one_line_error(caoctl(daemon, "merge", "nosuch"), code=1, contains="has no worktree")
    one_line_error(caoctl(daemon, "worktree", "list", "--session", "nope"), code=1, contains="no such session: nope")
    r = caoctl(daemon, "worktree", "clean", "--json")
    assert r.returncode == 0 and json.loads(r.stdout) == {"removed": [], "kept": []}
    assert os.path.isdir(git_repo.path)
