"""caoctl workflow list|show|run|resume|runs|show-run, run as a subprocess against a real
daemon whose scripted agents (`scripted` and `twin`) answer "[NAME turn N] " + what they were sent."""

from __future__ import annotations

import json
from pathlib import Path

from caod.handover import parse_sections

ECHO = {"reply": "[{name} turn {turn}] {text}", "think": 0.05}


def test_list_and_show_the_builtin_workflows_and_a_users_own(workflow_daemons, caoctl, caoctl_json):
    d = workflow_daemons()
    (d.home / "workflows").mkdir()
    (d.home / "workflows" / "pair.yaml").write_text(
        "description: ask, then check\nsteps:\n"
        "  - {name: ask, role: asker, participant: 0, instruction: 'Answer: {task}'}\n"
        "  - {name: check, role: checker, participant: 1, instruction: 'Check this: {steps.ask}'}\n")
    (d.home / "workflows" / "broken.yaml").write_text(
        "steps:\n  - {name: a, role: r, participant: 0, instruction: 'uses {steps.later}'}\n")
    listed = caoctl_json(d, "workflow", "list")
    assert [w["name"] for w in listed["workflows"]] == ["adversarial", "collaborative", "handshake", "pair",
                                                        "troubleshoot"]
    assert [len(w["steps"]) for w in listed["workflows"]] == [3, 3, 1, 2, 4]
    assert len(listed["problems"]) == 1 and "{steps.later} is not an earlier step" in listed["problems"][0]
    text = caoctl(d, "workflow", "list")
    assert text.returncode == 0 and "propose → critique → refine" in text.stdout
    assert "caoctl: skipped" in text.stderr and "broken.yaml" in text.stderr
    shown = caoctl(d, "workflow", "show", "collaborative")
    assert shown.returncode == 0 and "2. critique · critic · participant 1" in shown.stdout
    assert "{steps.propose}" in shown.stdout


def test_run_prints_each_step_then_show_run_and_runs(workflow_daemons, caoctl, caoctl_json, tmp_path):
    d = workflow_daemons()
    r = caoctl(d, "workflow", "run", "collaborative", "--task", "add retries", "--with", "scripted,twin",
               "--working-directory", str(tmp_path))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    run_id = lines[0].split()[1].rstrip(":")
    steps = [line for line in lines if line.startswith("step ")]
    assert [s.split(" (")[0] for s in steps] == ["step 1/3 propose", "step 2/3 critique", "step 3/3 refine"]
    assert "scripted agent" in steps[0] and "twin agent" in steps[1] and "scripted agent" in steps[2]
    assert f"run {run_id} completed; handover files in {tmp_path}/.caod/handover/{run_id}" in r.stdout
    assert r.stdout.rstrip().endswith("Critique:\n[twin turn 1] You are the critic in a collaborative review. "
                                      "Another agent proposed a solution to\na task. Critique it constructively: "
                                      "what is wrong, what is missing, what to change.\n\nTask: add retries\n\n"
                                      "Proposal:\n[scripted turn 1] You are the proposer in a collaborative review. "
                                      "Propose a solution to this task.\nBe concrete: the approach, the key steps, "
                                      "the risks.\n\nTask: add retries")
    run = caoctl_json(d, "workflow", "show-run", run_id)
    assert run["status"] == "completed" and [s["status"] for s in run["steps"]] == ["done"] * 3
    for s in run["steps"]:
        assert parse_sections(Path(s["handover"]).read_text()) == (s["input"], s["output"])
    runs = caoctl_json(d, "workflow", "runs")
    assert [x["id"] for x in runs["runs"]] == [run_id]
    table = caoctl(d, "workflow", "runs")
    assert run_id in table.stdout and "completed" in table.stdout and "3/3" in table.stdout


def test_a_stopped_run_fails_with_one_line_and_resume_finishes_it(workflow_daemons, caoctl, caoctl_json,
                                                                  one_line_error, tmp_path):
    first = workflow_daemons({"rules": [{"match": "^A critic reviewed", "error": "quota exceeded"}],
                              "default": ECHO})
    r = caoctl(first, "workflow", "run", "collaborative", "--task", "t", "--with", "scripted,twin",
               "--working-directory", str(tmp_path))
    assert r.returncode == 1
    run_id = r.stdout.splitlines()[0].split()[1].rstrip(":")
    one_line_error(r, contains=f"run {run_id} stopped: step 3 (refine): agent ")
    assert "reported an error" in r.stderr and f"caoctl workflow resume {run_id}" in r.stderr
    first.stop()
    second = workflow_daemons(like=first)
    again = caoctl(second, "workflow", "resume", run_id)
    assert again.returncode == 0, again.stderr
    assert f"run {run_id} resumed at step 3 (refine)" in again.stdout and "step 3/3 refine" in again.stdout
    run = caoctl_json(second, "workflow", "show-run", run_id)
    assert [s["status"] for s in run["steps"]] == ["done"] * 3
    done = caoctl(second, "workflow", "resume", run_id)
    one_line_error(done, contains="is complete: nothing to resume")


def test_errors_are_one_clear_line(workflow_daemons, caoctl, one_line_error, tmp_path):
    d = workflow_daemons()
    one_line_error(caoctl(d, "workflow", "show", "nope"), contains="no such workflow: nope")
    one_line_error(caoctl(d, "workflow", "run", "handshake", "--task", "x", "--with", "no-such-cli",
                          "--working-directory", str(tmp_path)), contains="neither a profile nor a provider")
    one_line_error(caoctl(d, "workflow", "resume", "ffffffff"), contains="no such workflow run: ffffffff")
    r = caoctl(d, "workflow", "runs", "--json")
    assert r.returncode == 0 and json.loads(r.stdout) == {"runs": []}
