"""Memory through a real daemon: scopes keep sessions apart, recall ranks by relevance
(narrowest scope first), a new agent's first input carries the memories it needs, the
MCP tools work through the real bridge, and nothing stored is lost to a kill -9.

Agents act through their tokens (what the bridge sends); people through caoctl's
params (a project folder, a session, a profile).
"""

from __future__ import annotations

import json

import pytest

from caoctl.client import RpcFailure
from caod.memory.search import BLOCK_END, BLOCK_START
from caod.protocol import ErrorCode


def launch(c, name: str, cwd, rules: dict | None = None, task: str | None = None, profile: str = "code_supervisor"):
    params = {"profile": profile, "provider": "scripted", "session": name, "cwd": str(cwd)}
    if rules is not None:
        params["env"] = {"CAO_SCRIPTED_RULES": json.dumps(rules)}
    if task is not None:
        params["task"] = task
    return c.call("session.launch", params, timeout=30).supervisor.id


def store(c, token, content, **kw):
    return c.call("memory.store", {"token": token, "content": content, **kw})


def recall(c, token, query, **kw):
    return [m.key for m in c.call("memory.recall", {"token": token, "query": query, **kw}).memories]


def test_scopes_keep_sessions_apart(daemon, wait_status, agent_token, git_repo):
    c = daemon.client()
    one, two = launch(c, "one", git_repo.path), launch(c, "two", git_repo.path)
    wait_status(c, one, "idle", timeout=20)
    wait_status(c, two, "idle", timeout=20)
    t1, t2 = agent_token(c, one), agent_token(c, two)
    store(c, t1, "the flaky test is test_upload in the session one", key="flaky", scope="session")
    store(c, t1, "the build runs with make check-all", key="build", scope="project")
    store(c, t1, "supervisors plan before they delegate", key="habit", scope="agent")
    store(c, t1, "the team prefers small commits", key="style", scope="global")

    assert recall(c, t1, "flaky test upload") == ["flaky"]
    assert recall(c, t2, "flaky test upload") == []  # another session's note
    assert recall(c, t2, "build make") == ["build"]  # the same repository: the same project
    assert recall(c, t2, "plan delegate") == ["habit"]  # the same profile
    assert recall(c, t2, "small commits") == ["style"]
    # an agent cannot reach another place by naming it: its token decides
    other = c.call("memory.recall", {"token": t2, "query": "flaky", "session": "one"}).memories
    assert other == []
    with pytest.raises(RpcFailure) as e:
        c.call("memory.forget", {"token": t2, "key": "flaky"})
    assert e.value.code == ErrorCode.NO_SUCH_MEMORY
    # a person sees everything
    assert {m.key for m in c.call("memory.list", {}).memories} == {"flaky", "build", "habit", "style"}
    found = c.call("memory.recall", {"query": "flaky", "session": "one"}).memories
    assert [(m.key, m.scope, m.owner) for m in found] == [("flaky", "session", "one")]


def test_recall_ranks_by_relevance_narrowest_scope_first(daemon, wait_status, agent_token, tmp_path):
    c = daemon.client()
    sup = launch(c, "rank", tmp_path)
    wait_status(c, sup, "idle", timeout=20)
    token = agent_token(c, sup)
    store(c, token, "deploys go through the staging cluster first", key="deploy", scope="project")
    store(c, token, "the database migrations run at deploy time; a failed migration stops the deploy",
          key="migrations", scope="project")
    store(c, token, "lunch is at noon", key="lunch", scope="project")
    store(c, token, "a migration of the database needs a backup first", key="backup-first", scope="global")
    store(c, token, "session note on the database migration plan", key="plan", scope="session")

    keys = recall(c, token, "database migration", limit=10)
    # the session's note first (narrowest), then the project's by relevance, then global
    assert keys == ["plan", "migrations", "backup-first"], keys
    assert recall(c, token, "database migration", scope="project") == ["migrations"]
    assert sorted(recall(c, token, "deploy")) == ["deploy", "migrations"]  # "deploys" stems to "deploy"
    assert "lunch" not in recall(c, token, "deploy staging")
    # a query is words, never FTS5 syntax
    assert recall(c, token, 'database" OR NOT * (') == ["plan", "migrations", "backup-first"]


def test_the_same_key_replaces_and_a_note_without_key_gets_one(daemon, wait_status, agent_token, tmp_path):
    c = daemon.client()
    sup = launch(c, "keys", tmp_path)
    wait_status(c, sup, "idle", timeout=20)
    token = agent_token(c, sup)
    first = store(c, token, "port 8080", key="port")
    second = store(c, token, "port 9090", key="port", tags=["net", "net", "config"])
    assert (second.id, second.content, second.tags, second.source) == (first.id, "port 9090", ["net", "config"], sup)
    made = store(c, token, "Always run the linter before committing")
    assert made.key.startswith("always-run-the-linter-before-committing-") and made.scope == "project"
    assert store(c, token, "Always run the linter before committing").id == made.id  # same note, same key


@pytest.mark.parametrize("params, code, words", [
    ({"content": "   "}, ErrorCode.INVALID_PARAMS, "empty"),
    ({"content": "x", "scope": "planet"}, ErrorCode.INVALID_PARAMS, "unknown scope"),
    ({"content": "x" * (64 * 1024 + 1)}, ErrorCode.INVALID_PARAMS, "too long"),
    ({"content": "x", "key": "two\nlines"}, ErrorCode.INVALID_PARAMS, "one line"),
    ({"content": "x", "tags": ["has space"]}, ErrorCode.INVALID_PARAMS, "bad tag"),
    ({"content": "x", "scope": "session"}, ErrorCode.INVALID_PARAMS, "no session"),
])
def test_bad_stores_are_refused_with_one_clear_line(daemon, params, code, words):
    c = daemon.client()
    with pytest.raises(RpcFailure) as e:
        c.call("memory.store", {"project": "/tmp", **params})
    assert e.value.code == code and words in e.value.message and "\n" not in e.value.message


def test_recall_limits_and_empty_queries(daemon):
    c = daemon.client()
    for query, words in (("  ", "no words"), ("the a of", "no words")):
        with pytest.raises(RpcFailure) as e:
            c.call("memory.recall", {"query": query, "project": "/tmp"})
        assert words in e.value.message
    with pytest.raises(RpcFailure) as e:
        c.call("memory.recall", {"query": "cache build", "limit": 0, "project": "/tmp"})
    assert "limit" in e.value.message


def test_a_new_agents_first_input_carries_the_relevant_memories(daemon, wait_status, git_repo):
    c = daemon.client()
    project = {"project": str(git_repo.path)}
    c.call("memory.store", {"content": "the build command is make check-all", "key": "build", **project})
    c.call("memory.store", {"content": "releases are tagged vX.Y.Z", "key": "release", **project})
    c.call("memory.store", {"content": "the build of the docs needs sphinx", "key": "docs", "scope": "global"})
    c.call("memory.store", {"content": "the build is slow on Mondays", "key": "other", "scope": "session",
                            "session": "elsewhere"})
    sup = launch(c, "brief", git_repo.path, task="How do I run the build?")
    wait_status(c, sup, "completed", timeout=30)
    echoed = c.call("agent.output", {"agent": sup, "mode": "last"}).text  # the scripted agent echoes its input
    assert echoed.startswith("echo: " + BLOCK_START), echoed
    block = echoed[len("echo: "):echoed.index(BLOCK_END)]
    assert "(project) build: the build command is make check-all" in block
    assert "(global) docs: the build of the docs needs sphinx" in block
    assert "release" not in block and "Mondays" not in block  # not relevant; another session's
    assert echoed.endswith(BLOCK_END + "\n\nHow do I run the build?")


def test_a_profile_can_turn_the_memories_off(daemon, wait_status, git_repo, tmp_path):
    c = daemon.client()
    c.call("memory.store", {"content": "the build command is make check-all", "key": "build",
                            "project": str(git_repo.path)})
    profile = tmp_path / "quiet_supervisor.md"
    profile.write_text("---\nname: quiet_supervisor\ndescription: no memories\nrole: supervisor\nmemory: false\n"
                       "---\nYou supervise.\n")
    c.call("profile.install", {"text": profile.read_text(), "source": str(profile)})
    sup = launch(c, "quiet", git_repo.path, task="How do I run the build?", profile="quiet_supervisor")
    wait_status(c, sup, "completed", timeout=30)
    assert c.call("agent.output", {"agent": sup, "mode": "last"}).text == "echo: How do I run the build?"


MCP_RULES = {"rules": [
    {"match": r"^remember (?P<what>.+)$",
     "mcp_call": {"server": "caod", "tool": "memory_store", "args": {"content": "{what}", "key": "fact"}},
     "reply": "stored {result_json}", "reply_error": "store failed: {error}"},
    {"match": r"^recall (?P<q>.+)$",
     "mcp_call": {"server": "caod", "tool": "memory_recall", "args": {"query": "{q}"}},
     "reply": "recalled {result_json}", "reply_error": "recall failed: {error}"},
    {"match": r"^forget$",
     "mcp_call": {"server": "caod", "tool": "memory_forget", "args": {"key": "fact"}},
     "reply": "forgot {result_json}", "reply_error": "forget failed: {error}"},
]}


def test_the_mcp_tools_through_the_real_bridge(daemon, wait_status, send, tmp_path):
    c = daemon.client()
    sup = launch(c, "mcp", tmp_path, rules=MCP_RULES)
    wait_status(c, sup, "idle", timeout=20)
    stored = send(c, sup, "remember the cache lives in /var/cache/app", timeout=30).answer
    assert stored.startswith("stored "), stored
    assert json.loads(stored.removeprefix("stored "))["scope"] == "project"
    recalled = send(c, sup, "recall where is the cache", timeout=30).answer
    memories = json.loads(recalled.removeprefix("recalled "))["memories"]
    assert [(m["key"], m["content"]) for m in memories] == [("fact", "the cache lives in /var/cache/app")]
    assert send(c, sup, "forget", timeout=30).answer.startswith("forgot ")
    assert c.call("memory.list", {}).memories == []


def test_memories_outlive_a_kill_9(daemon_factory):
    first = daemon_factory.new()
    c = first.client()
    stored = c.call("memory.store", {"content": "kept across crashes", "key": "durable", "scope": "global"})
    first.kill()
    again = daemon_factory.same(first)
    found = again.client().call("memory.recall", {"query": "crashes", "project": "/tmp"}).memories
    assert [(m.id, m.key, m.content) for m in found] == [(stored.id, "durable", "kept across crashes")]
