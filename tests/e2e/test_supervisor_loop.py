"""The supervisor's loop with real binaries: a real Claude Code supervisor assigns a task to a
real Qwen Code worker in its own git worktree; the worker's shell tool asks for approval; caod's
notice about the question reaches the supervisor's next model request; the supervisor answers it
with answer_user_prompt; the worker runs the command in its worktree and finishes; caod forwards
its unreported answer to the supervisor; ending the session ends every process of both agents and
keeps the worker's worktree.

One fake model serves both CLIs. The two agents' requests interleave, so each turn is keyed by
its user text (rules) where it can be, and the script holds only what comes in a known order.
Run `.ci/install-clis` first; a missing binary skips the test.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from pathlib import Path

import pytest

from caod.notices import PREFIX
from fakemodel.server import Reply, ToolCall

from realclis import MARK, START_TIMEOUT, TURN_TIMEOUT, agent_processes, binary, screen, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

TASK = "WORKTREE-TASK-5: create the file."  # the worker's task (its first turn's user text)
FINISHED = "WORKER-FINISHED-8"  # the worker's answer once its command ran
SEEN = "SUPERVISOR-SAW-IT-9"  # the supervisor's answer to the worker's forwarded answer
NOTICE = r"\[caod notice about worker (\w+) \(developer\)\] "


def git(*args: str, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    r = subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, (args, r.stderr)
    return r.stdout.strip()


def make_repository(folder: Path) -> str:
    """`folder` as a git repository with one commit on main; its HEAD."""
    git("init", "--quiet", "--initial-branch=main", cwd=folder)
    git("config", "user.name", "Test Person", cwd=folder)
    git("config", "user.email", "test@example.invalid", cwd=folder)
    (folder / "shared.txt").write_text("line 1\n")
    git("add", "shared.txt", cwd=folder)
    git("commit", "--quiet", "-m", "first", cwd=folder)
    return git("rev-parse", "HEAD", cwd=folder)


def wait_until(pred, what: str, report, timeout: float = TURN_TIMEOUT):
    """Until `pred()` is truthy (its value is returned); fails with `what` and `report()`."""
    deadline = time.monotonic() + timeout
    while not (got := pred()):
        if time.monotonic() >= deadline:
            pytest.fail(f"{what}: not within {timeout}s\n{report()}", pytrace=False)  # shown in full
        time.sleep(0.1)  # test-side pacing only
    return got


# The supervisor when its worker reaches the prompt: done with its turn (the notice is typed in
# at once), or still busy with it (its model's answer is held: the notice waits in its inbox).
@pytest.mark.parametrize("supervisor", ["idle", "busy"])
def test_claude_supervisor_is_told_of_a_qwen_worker_at_a_prompt_in_its_worktree(supervisor, real_daemon,
                                                                                  model_server, workdir):
    binary("claude")
    binary("qwen")
    base = make_repository(workdir)
    released = threading.Event()
    shell = ToolCall("run_shell_command", {"command": f"touch {MARK}", "description": "create the file"})
    # Rules first (the first match wins): the notices the supervisor gets, then the worker's task.
    model_server.rule(NOTICE + "it is waiting for an answer",
                      lambda m: ToolCall.named_like("answer_user_prompt", {"agent_id": m[1], "answer": "1"}))
    model_server.rule(NOTICE + "it finished its turn without calling send_message", Reply(SEEN))
    model_server.rule(NOTICE, Reply("noted"))  # any other notice: no script item is taken
    model_server.rule(re.escape(TASK), shell)
    model_server.script(
        # As in test_claude_supervisor_hands_off_to_a_qwen_worker: the task is typed before the
        # bridge is connected, and Claude offers WaitForMcpServers.
        ToolCall("WaitForMcpServers", {"servers": ["caod"]}),
        ToolCall.named_like("assign", {"agent_profile": "developer", "provider": "qwen_code",
                                       "use_worktree": True, "message": TASK}),
        Reply("ASSIGNED", until=released if supervisor == "busy" else None),  # after assign returned
        # After the approval, the worker (its command's result) and the supervisor (answer_user_prompt's
        # result) ask at about the same time, in either order: both get the same text.
        Reply(FINISHED),
        Reply(FINISHED),
    )
    c = real_daemon.client()
    launched = c.call("session.launch", {"profile": "code_supervisor", "provider": "claude_code",
                                         "session": "e2e", "cwd": str(workdir),
                                         "task": "Have a developer create the file."}, timeout=30)
    sup = launched.supervisor.id
    worker: list[str] = []

    def report() -> str:
        """Both agents' screens and status trails, and what their models were asked and answered."""
        asked = [f"{r.time:.3f} {r.api}: {r.user_text[:200]!r} results={[t[:120] for t in r.tool_results]} "
                 f"-> {r.reply}" for r in model_server.main_requests()]
        shown = [f"== supervisor {sup}:\n{screen(c, sup)}"]
        shown += [f"== worker {w}:\n{screen(c, w)}" for w in worker]
        return "\n".join(["== main requests:", *asked, *shown])

    def the_worker():
        found = [a for a in c.call("agent.list", {}).agents if a.parent == sup]
        return found[0] if found else None

    info = wait_until(the_worker, "no worker was assigned", report, timeout=START_TIMEOUT + TURN_TIMEOUT)
    worker.append(info.id)
    assert (info.provider, info.profile, info.session) == ("qwen_code", "developer", "e2e"), info

    # The worker runs in its own worktree: caod's worktrees folder, its own branch, from the session's HEAD.
    tree = wait_until(lambda: c.call("worktree.list", {"session": "e2e"}).worktrees, "no worktree", report,
                      timeout=30)
    assert [(t.agent, t.branch) for t in tree] == [(info.id, f"caod/e2e/{info.id}")], tree
    home_trees = Path(os.path.realpath(real_daemon.home)) / "worktrees" / "e2e"
    assert Path(tree[0].path) == home_trees / info.id
    assert (info.cwd, tree[0].base, os.path.realpath(tree[0].repo)) == (tree[0].path, base,
                                                                         os.path.realpath(workdir))
    assert git("rev-parse", "--abbrev-ref", "HEAD", cwd=Path(info.cwd)) == f"caod/e2e/{info.id}"
    assert os.path.realpath(f"/proc/{info.pid}/cwd") == os.path.realpath(info.cwd)

    # Its shell tool asks for approval: the worker stops at the prompt.
    asked = wait_for(c, info.id, "waiting_user_answer", timeout=START_TIMEOUT + TURN_TIMEOUT)
    assert asked.status.value == "waiting_user_answer", report()
    head = PREFIX.format(id=info.id, profile="developer") + "it is waiting for an answer"

    def notices():
        return [m for m in c.call("inbox.list", {"agent": sup}).messages if m.sender == "caod"]

    if supervisor == "busy":
        # The notice waits in the inbox while the supervisor's turn goes on, then is its next turn.
        (queued,) = wait_until(notices, "no notice was queued for the busy supervisor", report, timeout=10)
        assert queued.body.startswith(head) and queued.status == "pending", (queued, report())
        assert c.call("agent.get", {"agent": sup}).status.value == "processing", report()
        assert not [r for r in model_server.main_requests("anthropic") if head in r.user_text]
        released.set()

    # caod's notice is the supervisor's next turn: its model request carries the question and
    # how to answer it.
    def notice_request():
        return [r for r in model_server.main_requests("anthropic") if head in r.user_text]

    (told,) = wait_until(notice_request, "the supervisor's model was not told of the prompt", report)
    assert "touch" in told.user_text, (told.user_text, report())
    assert f'answer_user_prompt tool with agent_id="{info.id}"' in told.user_text, told.user_text
    assert "Options: 1." in told.user_text, told.user_text
    assert any(name.endswith("answer_user_prompt") for name in told.tools), told.tools

    # The supervisor's model answers it with answer_user_prompt: the command runs in the worktree.
    wait_until(lambda: (Path(info.cwd) / MARK).exists(), "the approved command did not run", report)
    assert not (workdir / MARK).exists(), "the worker ran its command in the session's folder"
    assert told.reply is not None and told.reply.like == "answer_user_prompt", told.reply
    (answered, *_) = wait_until(lambda: [r for r in model_server.main_requests("anthropic") if r.time > told.time],
                                "answer_user_prompt's result did not reach the supervisor's model", report)
    assert any(info.id in t for t in answered.tool_results), answered.tool_results
    (work,) = c.call("worktree.list", {"session": "e2e"}).worktrees
    assert (work.changed, work.uncommitted) == (1, 1), work  # the new file, in the worker's tree only

    # The worker finishes without calling send_message: caod forwards its answer, and the
    # supervisor's model reads it.
    forwarded = PREFIX.format(id=info.id, profile="developer") + "it finished its turn without calling send_message"

    def forwarded_request():
        return [r for r in model_server.main_requests("anthropic") if forwarded in r.user_text]

    (got,) = wait_until(forwarded_request, "the worker's answer was not forwarded", report)
    assert FINISHED in got.user_text, (got.user_text, report())
    wait_until(lambda: c.call("agent.output", {"agent": sup, "mode": "last"}).text == SEEN,
               "the supervisor did not answer the forwarded result", report)

    # Each notice came once: the question, then the forwarded answer.
    bodies = [m.body for m in notices()]
    assert len(bodies) == 2 and bodies[0].startswith(head) and bodies[1].startswith(forwarded), bodies
    assert model_server.remaining == 0, report()

    # The session ends: every process of both agents (hooks, MCP bridges, Qwen's relaunched
    # node) is gone, and the worker's unmerged work is kept.
    c.call("session.shutdown", {"session": "e2e"}, timeout=90)
    def left() -> dict[int, str]:
        return {pid: cmd for pid, cmd in agent_processes(real_daemon).items() if pid != real_daemon.pid}

    wait_until(lambda: not left(), "agent processes outlived the session", lambda: f"{left()}\n{report()}",
               timeout=60)
    assert (Path(info.cwd) / MARK).exists()
    assert [t.agent for t in c.call("worktree.list", {"session": "e2e"}).worktrees] == [info.id]
