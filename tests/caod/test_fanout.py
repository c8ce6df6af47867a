"""Fan-out (caod.fanout): one assign starts the same task on several workers, each in its own
git worktree and branch, all or none. A real daemon, the real MCP bridge (the scripted
supervisor calls assign), real git repositories in temporary folders, and user provider
files: a second scripted provider, and one whose command does not exist (a real failure
in the middle of a fan-out, not a mock).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from caoctl.client import RpcFailure
from caod.protocol import ErrorCode

SESSION = "f1"
RULES = {"rules": [
    {"match": r"^fan-3: (?P<task>.+)$",
     "mcp_call": {"server": "caod", "tool": "assign",
                  "args": {"agent_profile": "developer", "message": "{task}", "count": 3}},
     "reply": "FANNED {result_json}", "reply_error": "fan-out failed: {error}"},
    {"match": r"^fan-9: (?P<task>.+)$",
     "mcp_call": {"server": "caod", "tool": "assign",
                  "args": {"agent_profile": "developer", "message": "{task}", "count": 9}},
     "reply": "FANNED {result_json}", "reply_error": "fan-out failed: {error}"},
    {"match": r"^collect (?P<id>\w+)$",
     "mcp_call": {"server": "caod", "tool": "get_result", "args": {"agent_id": "{id}", "timeout": 30}},
     "reply": "GOT {result_json}", "reply_error": "get_result failed: {error}"},
    {"match": r"^\[message from (?P<sender>\w+)\] (?P<body>.*)", "reply": "got message from {sender}: {body}"},
]}
# The scripted agent under another name (tests/conftest.py): a fan-out across two providers.

# A provider caod knows but cannot start: its command is on no PATH.
MISSING = """
name = "missing"
description = "a CLI that is not installed"
command = ["caod-test-no-such-cli"]

[[patterns]]
status = "idle"
regex = "^> $"
region = 1
"""


@pytest.fixture
def fan_team(daemon_factory, tmp_path, write_twin_provider):
    folder = tmp_path / "providers"
    folder.mkdir()
    write_twin_provider(folder)
    (folder / "missing.toml").write_text(MISSING)
    d = daemon_factory.new(start=False)
    d.env["CAOD_PROVIDERS_DIR"] = str(folder)
    d.env["CAO_SCRIPTED_RULES"] = json.dumps(RULES)
    return d.start()


def launch(client, cwd: Path, wait_status) -> str:
    r = client.call("session.launch", {"profile": "code_supervisor", "provider": "scripted", "session": SESSION,
                                       "cwd": str(cwd)}, timeout=30)
    wait_status(client, r.supervisor.id, "idle", timeout=20)
    return r.supervisor.id


def supervisor(client, text: str, prefix: str) -> str:
    """The supervisor's turn on `text`; what follows `PREFIX ` in its answer."""
    r = client.call("session.send", {"session": SESSION, "text": text, "wait": True, "timeout": 60}, timeout=70)
    assert r.answer and r.answer.startswith(prefix + " "), r.answer
    return r.answer.removeprefix(prefix + " ")


def worktrees(client) -> dict:
    return {w.agent: w for w in client.call("worktree.list", {"session": SESSION}).worktrees}


def live_workers(client, sup: str) -> list[str]:
    return [a.id for a in client.call("agent.list", {}).agents if a.parent == sup and a.status.value != "exited"]


def assert_nothing_started(client, sup: str, home: Path, git_repo) -> None:
    assert [a.id for a in client.call("agent.list", {}).agents] == [sup]  # no worker, not even an exited one
    assert client.call("worktree.list", {}).worktrees == []
    assert git_repo.git("branch", "--list", "caod/*") == ""
    assert git_repo.git("worktree", "list", "--porcelain").count("worktree ") == 1
    assert not (home / "worktrees" / SESSION).exists() or os.listdir(home / "worktrees" / SESSION) == []


def test_count_three_runs_the_task_three_times_each_in_its_own_worktree(fan_team, git_repo, wait_status,
                                                                        agent_token):
    c = fan_team.client()
    sup = launch(c, git_repo.path, wait_status)
    base = git_repo.head()
    out = json.loads(supervisor(c, "fan-3: count the lines", "FANNED"))  # through the MCP bridge
    ids = out["agent_ids"]
    assert len(ids) == 3 == len(set(ids)) and out["agent_id"] == ids[0] and out["session"] == SESSION
    wts = worktrees(c)
    assert set(wts) == set(ids)  # use_worktree is implied
    assert len({w.path for w in wts.values()}) == 3
    for agent_id in ids:
        w, info = wts[agent_id], c.call("agent.get", {"agent": agent_id})
        assert w.branch == f"caod/{SESSION}/{agent_id}" and w.base == base
        assert info.cwd == w.path and info.parent == sup and info.provider == "scripted"
        assert git_repo.git("branch", "--show-current", cwd=w.path) == w.branch
        assert Path(w.path, "shared.txt").read_text() == "line 1\n"  # its files are checked out
        assert git_repo.status() == "" and git_repo.git("status", "--porcelain", cwd=w.path) == ""
    assert git_repo.git("worktree", "list", "--porcelain").count("worktree ") == 4
    # Each worker got the task and answered; the supervisor collects each answer with get_result.
    token = agent_token(c, sup)
    for agent_id in ids:
        got = c.call("orch.get_result", {"token": token, "agent_id": agent_id, "timeout": 30}, timeout=40)
        assert (got.done, got.ended) == (True, "completed"), got
        assert got.output.startswith(f"got message from {sup}: count the lines\n\nWhen you have finished")
    got = json.loads(supervisor(c, f"collect {ids[2]}", "GOT"))
    assert got["agent_id"] == ids[2] and got["output"].startswith(f"got message from {sup}: count the lines")


def test_providers_one_worker_each_in_order_duplicates_allowed(fan_team, git_repo, wait_status, agent_token):
    c = fan_team.client()
    sup = launch(c, git_repo.path, wait_status)
    token = agent_token(c, sup)
    r = c.call("orch.assign", {"token": token, "agent_profile": "developer", "message": "compare",
                               "providers": ["twin", "scripted", "twin"]}, timeout=60)
    assert len(r.agent_ids) == 3 == len(set(r.agent_ids)) and r.agent_id == r.agent_ids[0]
    assert [c.call("agent.get", {"agent": a}).provider for a in r.agent_ids] == ["twin", "scripted", "twin"]
    assert set(worktrees(c)) == set(r.agent_ids)
    for agent_id in r.agent_ids:
        got = c.call("orch.get_result", {"token": token, "agent_id": agent_id, "timeout": 30}, timeout=40)
        assert got.done and got.output.startswith(f"got message from {sup}: compare"), got
    # A plain assign is unchanged, and names its one worker in agent_ids too.
    one = c.call("orch.assign", {"token": token, "agent_profile": "developer", "message": "alone"}, timeout=60)
    assert one.agent_ids == [one.agent_id] and one.agent_id not in worktrees(c)


@pytest.mark.parametrize("fan, code, words", [
    ({"count": 0}, ErrorCode.INVALID_PARAMS, "count must be 1 to 8 (got 0)"),
    ({"count": 9}, ErrorCode.INVALID_PARAMS, "count must be 1 to 8 (got 9)"),
    ({"count": 2, "providers": ["scripted"]}, ErrorCode.INVALID_PARAMS, "give providers or count, not both"),
    ({"providers": []}, ErrorCode.INVALID_PARAMS, "providers is empty"),
    ({"providers": ["scripted"] * 9}, ErrorCode.INVALID_PARAMS, "at most 8 workers at once (got 9 providers)"),
    ({"providers": ["scripted"], "provider": "twin"}, ErrorCode.INVALID_PARAMS, "give provider or providers"),
    ({"providers": ["scripted", "no_such_cli"]}, ErrorCode.NO_SUCH_PROVIDER, "unknown provider 'no_such_cli'"),
    ({"count": 2, "provider": "no_such_cli"}, ErrorCode.NO_SUCH_PROVIDER, "unknown provider 'no_such_cli'"),
    ({"count": 2, "agent_profile": "no_such_profile"}, ErrorCode.NO_SUCH_PROFILE, "no_such_profile"),
])
def test_a_bad_fan_out_is_refused_before_anything_starts(fan_team, git_repo, wait_status, agent_token,
                                                         fan, code, words):
    c = fan_team.client()
    sup = launch(c, git_repo.path, wait_status)
    with pytest.raises(RpcFailure) as e:
        c.call("orch.assign", {"token": agent_token(c, sup), "agent_profile": "developer", "message": "task",
                               **fan}, timeout=60)
    assert e.value.code == code and words in e.value.message and "\n" not in e.value.message, e.value.message
    assert_nothing_started(c, sup, fan_team.home, git_repo)


def test_a_fan_out_outside_git_and_through_the_bridge_is_refused(fan_team, git_repo, tmp_path, wait_status,
                                                                agent_token):
    plain = tmp_path / "plain"
    plain.mkdir()
    c = fan_team.client()
    sup = launch(c, git_repo.path, wait_status)
    with pytest.raises(RpcFailure) as e:  # a working_directory outside git: fan-out needs worktrees
        c.call("orch.assign", {"token": agent_token(c, sup), "agent_profile": "developer", "message": "task",
                               "count": 2, "working_directory": str(plain)}, timeout=60)
    assert e.value.code == ErrorCode.NOT_A_REPOSITORY and f"{plain} is not inside a git repository" in e.value.message
    said = supervisor(c, "fan-9: too many", "fan-out failed:")  # the supervisor's model reads the refusal
    assert "fan-out refused: count must be 1 to 8 (got 9)" in said, said
    assert_nothing_started(c, sup, fan_team.home, git_repo)


def test_a_worker_that_cannot_start_undoes_the_whole_fan_out(fan_team, git_repo, wait_status, agent_token):
    c = fan_team.client()
    sup = launch(c, git_repo.path, wait_status)
    token = agent_token(c, sup)
    with pytest.raises(RpcFailure) as e:  # the 2nd cannot start; the 1st and 3rd do, and are undone
        c.call("orch.assign", {"token": token, "agent_profile": "developer", "message": "task",
                               "providers": ["scripted", "missing", "scripted"]}, timeout=60)
    assert e.value.code == ErrorCode.SPAWN_FAILED and "cannot start missing" in e.value.message, e.value.message
    assert "caod-test-no-such-cli" in e.value.message and "\n" not in e.value.message
    undone = [a.id for a in c.call("agent.list", {}).agents if a.parent == sup]
    assert len(undone) == 2  # they had started: ended, not left running
    assert live_workers(c, sup) == []
    assert c.call("worktree.list", {}).worktrees == []
    assert git_repo.git("branch", "--list", "caod/*") == ""
    assert git_repo.git("worktree", "list", "--porcelain").count("worktree ") == 1
    assert os.listdir(fan_team.home / "worktrees" / SESSION) == []
    assert git_repo.status() == ""
    # The session goes on: a good fan-out after it works, and the supervisor hears nothing of the
    # undone workers (caod ended them; no "exited" notice), only of the workers it knows.
    r = c.call("orch.assign", {"token": token, "agent_profile": "developer", "message": "again", "count": 2},
               timeout=60)
    for agent_id in r.agent_ids:
        assert c.call("orch.get_result", {"token": token, "agent_id": agent_id, "timeout": 30}, timeout=40).done
    assert set(worktrees(c)) == set(r.agent_ids)
    senders = {m.sender for m in c.call("inbox.list", {"agent": sup}).messages}
    assert not senders & set(undone), senders


def test_eight_workers_are_made_side_by_side(fan_team, git_repo, wait_status, agent_token):
    """The most at once: their worktrees are made concurrently, and git must not trip over itself
    (two `git worktree add` side by side fail reading each other's half-made admin folder)."""
    for n in range(30):  # enough files that checking them out takes a while
        (git_repo.path / f"file{n}.txt").write_text(f"{n}\n" * 100)
    git_repo.git("add", "-A")
    git_repo.git("commit", "--quiet", "-m", "more files")
    c = fan_team.client()
    sup = launch(c, git_repo.path, wait_status)
    r = c.call("orch.assign", {"token": agent_token(c, sup), "agent_profile": "developer", "message": "many",
                               "count": 8}, timeout=120)
    assert len(set(r.agent_ids)) == 8
    wts = worktrees(c)
    assert set(wts) == set(r.agent_ids)
    for w in wts.values():
        assert (w.base, w.changed, w.uncommitted) == (git_repo.head(), 0, 0)
        assert Path(w.path, "file29.txt").read_text() == "29\n" * 100
