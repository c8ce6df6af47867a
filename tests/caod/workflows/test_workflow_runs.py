"""Workflow runs (caod.workflows) on a real daemon with scripted agents of two providers
(`scripted` and `twin`, the scripted CLI under another name): each built-in workflow end
to end with its handover files, a step that fails stops the run and resume finishes it,
and a kill -9 mid-run, a new daemon and resume give every step's output exactly once.

Every agent answers "[NAME turn N] " + exactly the text it was sent (ECHO_RULES), so an
answer shows who ran the step, whether it kept its context, and what it received.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from caod.handover import parse_sections

WORKFLOWS = {  # name -> each step's participant index, as the built-in files say
    "collaborative": [0, 1, 0],
    "adversarial": [0, 1, 0],
    "troubleshoot": [0, 1, 0, 1],
    "handshake": [0],
}
PROVIDERS = ["scripted", "twin"]


def run_to_end(client, workflow: str, task: str, cwd: Path, participants=PROVIDERS, timeout: float = 60):
    started = client.call("workflow.run", {"workflow": workflow, "task": task, "participants": participants,
                                           "cwd": str(cwd), "step_timeout": 30}, timeout=30)
    return follow(client, started.id, timeout)


def follow(client, run_id: str, timeout: float = 60):
    seen = 0
    while True:
        run = client.call("workflow.wait", {"run": run_id, "seen": seen, "timeout": timeout}, timeout=timeout + 10)
        done = sum(1 for s in run.steps if s.status == "done")
        if run.status != "running":
            return run
        assert done > seen, f"no step ended within {timeout}s: {run}"
        seen = done


def assert_handovers(run, cwd: Path) -> None:
    """One file per step under <cwd>/.caod/handover/<run>/, holding exactly what was sent and answered."""
    folder = cwd / ".caod" / "handover" / run.id
    assert run.handover_dir == str(folder)
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"turn_{s.index}_{s.role}.md" for s in run.steps)
    for s in run.steps:
        assert s.handover == str(folder / f"turn_{s.index}_{s.role}.md")
        content = Path(s.handover).read_text()
        assert parse_sections(content) == (s.input, s.output)
        assert f"| CLI | {s.provider} |" in content and f"agent {s.agent}" in content
        assert f"| step | {s.index} of {len(run.steps)}: {s.name} |" in content


def answered_by(step) -> tuple[str, int]:
    """(agent's name, its turn) from an echo answer, which must repeat the input exactly."""
    m = re.match(r"^\[(\w+) turn (\d+)\] ", step.output)
    assert m, step.output
    assert step.output[m.end():] == step.input, "the answer does not repeat what the agent was sent"
    return m.group(1), int(m.group(2))


@pytest.mark.parametrize("workflow", sorted(WORKFLOWS))
def test_each_builtin_workflow_runs_across_two_providers_with_handover_files(workflow, workflow_daemons, tmp_path):
    d = workflow_daemons()
    client = d.client()
    run = run_to_end(client, workflow, "make the cache thread-safe", tmp_path)
    assert run.status == "completed", run
    assert [s.participant for s in run.steps] == WORKFLOWS[workflow]
    instructions = [s.instruction for s in client.call("workflow.show", {"name": workflow}).steps]
    turns = {0: 0, 1: 0}
    outputs: dict[str, str] = {}
    for s in run.steps:
        name, turn = answered_by(s)
        assert name == PROVIDERS[s.participant] and s.provider == PROVIDERS[s.participant]
        turns[s.participant] += 1
        assert turn == turns[s.participant]  # the same agent, keeping its context across its steps
        assert s.status == "done" and s.started_at <= s.ended_at
        # the instruction's {task} and {steps.NAME} were filled in with the task and earlier answers
        assert "make the cache thread-safe" in s.input or any(o in s.input for o in outputs.values())
        for earlier, output in outputs.items():
            if f"{{steps.{earlier}}}" in instructions[s.index - 1]:
                assert output in s.input
        outputs[s.name] = s.output
    assert len({s.agent for s in run.steps}) == len(set(WORKFLOWS[workflow]))  # each participant spawned once
    assert_handovers(run, tmp_path)
    listed = client.call("workflow.runs", {}).runs
    assert [r.id for r in listed] == [run.id] and listed[0].status == "completed"


def test_one_participant_runs_every_step_in_one_agent(workflow_daemons, tmp_path):
    client = workflow_daemons().client()
    run = run_to_end(client, "troubleshoot", "the build hangs", tmp_path, participants=["twin"])
    assert run.status == "completed"
    assert [answered_by(s) for s in run.steps] == [("twin", n) for n in (1, 2, 3, 4)]
    assert len({s.agent for s in run.steps}) == 1


def test_no_handover_writes_no_files(workflow_daemons, tmp_path):
    client = workflow_daemons().client()
    started = client.call("workflow.run", {"workflow": "handshake", "task": "ok?", "participants": ["scripted"],
                                           "cwd": str(tmp_path), "handover": False}, timeout=30)
    run = follow(client, started.id)
    assert run.status == "completed" and run.handover_dir is None and run.steps[0].handover is None
    assert not (tmp_path / ".caod").exists()


ECHO = {"reply": "[{name} turn {turn}] {text}", "think": 0.05}  # as ECHO_RULES in tests/conftest.py


def test_a_step_whose_agent_exits_stops_the_run_and_resume_finishes_it(workflow_daemons, tmp_path):
    first = workflow_daemons({"rules": [{"match": "^You are the critic", "exit": 3}], "default": ECHO})
    client = first.client()
    run = run_to_end(client, "collaborative", "rename the module", tmp_path)
    assert run.status == "stopped"
    assert run.reason.startswith("step 2 (critique): agent ") and "exited (exit code 3)" in run.reason, run.reason
    assert [s.status for s in run.steps] == ["done", "failed", "pending"]
    assert "exited (exit code 3)" in run.steps[1].error
    proposal = run.steps[0].output
    assert [p.name for p in (tmp_path / ".caod" / "handover" / run.id).iterdir()] == ["turn_1_proposer.md"]
    first.stop()  # the problem is fixed (here: the critic no longer exits) and the run resumed
    # as if the daemon had died between journaling step 1 and writing its file: resume writes it from the journal
    (tmp_path / ".caod" / "handover" / run.id / "turn_1_proposer.md").unlink()
    second = workflow_daemons(like=first)
    client = second.client()
    assert client.call("workflow.get_run", {"run": run.id}).status == "stopped"  # a stopped run stays stopped
    client.call("workflow.resume", {"run": run.id[:6]}, timeout=30)
    run = follow(client, run.id)
    assert run.status == "completed", run
    assert run.steps[0].output == proposal  # not run again
    assert answered_by(run.steps[1]) == ("twin", 1)
    assert proposal in run.steps[1].input
    # the proposer's agent died with the first daemon: a fresh one is told what it was sent and answered
    name, turn = answered_by(run.steps[2])
    assert (name, turn) == ("scripted", 1)
    assert run.steps[2].input.startswith("You take over from an earlier agent")
    assert run.steps[0].input in run.steps[2].input and proposal in run.steps[2].input
    assert_handovers(run, tmp_path)


def test_kill_9_mid_step_then_a_new_daemon_and_resume_give_each_output_exactly_once(workflow_daemons, tmp_path,
                                                                                      wait_for):
    # The critic thinks long enough for the daemon to die in the middle of its step.
    first = workflow_daemons({"rules": [{"match": "^You are the critic", "reply": "[{name} turn {turn}] {text}",
                                         "think": 60}], "default": ECHO})
    client = first.client()
    started = client.call("workflow.run", {"workflow": "collaborative", "task": "split the parser",
                                           "participants": PROVIDERS, "cwd": str(tmp_path), "step_timeout": 90},
                          timeout=30)
    before = wait_for(lambda: (r := client.call("workflow.get_run", {"run": started.id})).steps[1].status == "running"
                      and r, "the critique step running")
    proposal, critic_input = before.steps[0].output, before.steps[1].input
    first.kill()
    second = workflow_daemons(like=first)
    client = second.client()
    interrupted = client.call("workflow.get_run", {"run": started.id})
    assert interrupted.status == "interrupted" and "resume" in interrupted.reason
    assert [s.status for s in interrupted.steps] == ["done", "running", "pending"]
    client.call("workflow.resume", {"run": started.id}, timeout=30)
    run = follow(client, started.id)
    assert run.status == "completed", run
    assert run.steps[0].output == proposal and run.steps[0].agent == before.steps[0].agent  # not run again
    assert run.steps[1].input == critic_input  # re-run from the same input, by a new twin agent
    assert answered_by(run.steps[1]) == ("twin", 1) and run.steps[1].agent != before.steps[1].agent
    assert answered_by(run.steps[2]) == ("scripted", 1)  # a fresh proposer, given what its predecessor did
    assert run.steps[2].input.startswith("You take over from an earlier agent") and proposal in run.steps[2].input
    assert_handovers(run, tmp_path)  # exactly one file per step
    assert len(client.call("workflow.runs", {}).runs) == 1


def test_a_step_that_stops_at_a_prompt_stops_the_run_with_the_question(workflow_daemons, tmp_path):
    client = workflow_daemons({"rules": [{"match": "^You are the critic", "approval": "Run rm -rf build?",
                                          "reply": "done"}], "default": ECHO}).client()
    run = run_to_end(client, "collaborative", "clean up", tmp_path)
    assert run.status == "stopped" and [s.status for s in run.steps] == ["done", "failed", "pending"]
    assert run.reason.startswith("step 2 (critique): agent ") and "stopped at a prompt" in run.reason, run.reason
    # people, sinks and plugins are told: one workflow event, stopped at that step
    (event,) = [e for e in client.call("events.list", {"limit": 1000}).events if e.kind.value == "workflow"]
    assert (event.detail["run"], event.detail["state"], event.detail["step"]) == (run.id, "stopped", "critique")
    assert event.detail["reason"] == run.reason


def test_a_daemon_stopped_mid_step_leaves_the_run_interrupted_not_failed(workflow_daemons, tmp_path, wait_for):
    first = workflow_daemons({"rules": [{"match": "^You are the critic", "reply": "late", "think": 60}],
                              "default": ECHO})
    client = first.client()
    started = client.call("workflow.run", {"workflow": "collaborative", "task": "t", "participants": PROVIDERS,
                                           "cwd": str(tmp_path)}, timeout=30)
    wait_for(lambda: client.call("workflow.get_run", {"run": started.id}).steps[1].status == "running",
             "the critique step running")
    assert first.stop() == 0
    client = workflow_daemons(like=first).client()
    run = client.call("workflow.get_run", {"run": started.id})
    assert run.status == "interrupted", run
    assert run.reason == "the daemon stopped during step 2 (critique): resume it to continue"
    client.call("workflow.resume", {"run": started.id}, timeout=30)
    assert follow(client, started.id).status == "completed"
