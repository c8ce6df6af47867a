"""The `collaborative` workflow with real binaries: Gemini CLI proposes, Qwen Code critiques,
Gemini CLI refines (keeping its context), all against the fake model server; the handover
files hold exactly what each agent was sent and the scripted answers."""

from __future__ import annotations

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
