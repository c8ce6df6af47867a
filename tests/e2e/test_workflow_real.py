"""The `collaborative` workflow with real binaries: Gemini CLI proposes, Qwen Code critiques,
Gemini CLI refines (keeping its context), all against the fake model server; the handover
files hold exactly what each agent was sent and the scripted answers."""

from __future__ import annotations

import threading
import time

import pytest

from fakemodel.server import Reply
from realclis import TURN_TIMEOUT, binary

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

PROPOSAL = "PROPOSAL-7: memoise the lookups in a dict keyed by id."
CRITIQUE = "CRITIQUE-7: a dict grows for ever; bound it (LRU) and expire stale ids."
FINAL = "FINAL-7: an LRU cache of 10k ids with a 5-minute expiry."


def test_collaborative_gemini_proposes_qwen_critiques(real_daemon, model_server, workdir):
    binary("gemini")
    binary("qwen")
    model_server.rule(r"You are the proposer in a collaborative review", Reply(PROPOSAL))
    model_server.rule(r"You are the critic in a collaborative review", Reply(CRITIQUE))
    model_server.rule(r"A critic reviewed your proposal", Reply(FINAL))
    c = real_daemon.client()
    run = c.call("workflow.run", {"workflow": "collaborative", "task": "Make the id lookups fast.",
                                  "participants": ["gemini_cli", "qwen_code"], "cwd": str(workdir)}, timeout=60)
    deadline = time.monotonic() + 3 * TURN_TIMEOUT + 60
    while run.status == "running" and time.monotonic() < deadline:
        seen = sum(1 for s in run.steps if s.status in ("done", "failed"))
        run = c.call("workflow.wait", {"run": run.id, "seen": seen, "timeout": 30}, timeout=60)
    screens = {s.agent: c.call("agent.output", {"agent": s.agent}).text for s in run.steps if s.agent}
    assert run.status == "completed", (run.reason, [(s.name, s.status, s.error) for s in run.steps], screens)

    assert [(s.name, s.provider, s.output) for s in run.steps] == [
        ("propose", "gemini_cli", PROPOSAL), ("critique", "qwen_code", CRITIQUE), ("refine", "gemini_cli", FINAL)]
    assert run.steps[0].agent == run.steps[2].agent  # the proposer kept its context
    assert PROPOSAL in run.steps[1].input and CRITIQUE in run.steps[2].input
    apis = [r.api for r in model_server.main_requests()]
    assert apis == ["gemini", "chat", "gemini"], apis
    refine = model_server.main_requests()[2]
    assert PROPOSAL in str(refine.body), "the refine turn is not in the proposer's conversation"

    for step in run.steps:
        text = open(step.handover, encoding="utf-8").read()
        assert step.input in text and step.output in text, (step.name, text)


def test_after_a_daemon_crash_resume_continues_each_cli_in_its_own_conversation(
        daemon_factory, real_daemon, model_server, workdir):
    """kill -9 of the daemon while Qwen Code critiques: the new daemon's `resume` starts both
    participants again with their CLIs' resume flags (they pin a conversation id), re-runs the
    critique from the same input, and Gemini CLI refines in its old conversation: its
    request still carries its proposal, which only that conversation holds."""
    binary("gemini")
    binary("qwen")
    hold = threading.Event()
    critiques: list[int] = []

    def critique(_m):
        critiques.append(1)
        return Reply(CRITIQUE, until=hold) if len(critiques) == 1 else Reply(CRITIQUE)

    model_server.rule(r"You are the proposer in a collaborative review", Reply(PROPOSAL))
    model_server.rule(r"You are the critic in a collaborative review", critique)
    model_server.rule(r"A critic reviewed your proposal", Reply(FINAL))
    c = real_daemon.client()
    run = c.call("workflow.run", {"workflow": "collaborative", "task": "Make the id lookups fast.",
                                  "participants": ["gemini_cli", "qwen_code"], "cwd": str(workdir)}, timeout=60)
    deadline = time.monotonic() + 2 * TURN_TIMEOUT
    while not critiques and time.monotonic() < deadline:
        time.sleep(0.1)
    assert critiques, "the critic never asked the model"
    before = c.call("workflow.get_run", {"run": run.id})
    assert [s.status for s in before.steps] == ["done", "running", "pending"], before.steps
    agents = [s.agent for s in before.steps[:2]]

    real_daemon.kill()
    again = daemon_factory.same(real_daemon, start=False)
    again.env = dict(real_daemon.env)
    again.start()
    hold.set()  # the dead CLI's request may end now; nobody reads it
    c = again.client()
    assert c.call("workflow.get_run", {"run": run.id}).status == "interrupted"
    run = c.call("workflow.resume", {"run": run.id}, timeout=60)
    deadline = time.monotonic() + 3 * TURN_TIMEOUT + 60
    while run.status == "running" and time.monotonic() < deadline:
        seen = sum(1 for s in run.steps if s.status in ("done", "failed"))
        run = c.call("workflow.wait", {"run": run.id, "seen": seen, "timeout": 30}, timeout=60)
    screens = {s.agent: c.call("agent.output", {"agent": s.agent}).text for s in run.steps if s.agent}
    assert run.status == "completed", (run.reason, [(s.name, s.status, s.error) for s in run.steps], screens)
    assert [s.output for s in run.steps] == [PROPOSAL, CRITIQUE, FINAL]
    assert [s.agent for s in run.steps] == [agents[0], agents[1], agents[0]]  # same ids: relaunched, not new
    refine = [r for r in model_server.main_requests(api="gemini") if "A critic reviewed" in r.user_text][-1]
    assert PROPOSAL in str(refine.body), "Gemini CLI did not resume into its conversation"
    assert "You take over from an earlier agent" not in str(refine.body)  # no catch-up was needed
