"""Flows on a real daemon: the script gate, the session each run launches (a scripted agent
on a real PTY, whose default reply echoes its input), what SQLite keeps of each run, and
the scheduler's timer against the daemon's own clock (shifted with CAOD_FLOW_CLOCK_OFFSET,
so a minute boundary or three hours of downtime take seconds)."""

from __future__ import annotations

import json
import math
import os
import sqlite3
import stat
import time
from pathlib import Path

import pytest

from caoctl.client import RpcFailure
from caod.protocol import ErrorCode

RULES = {"rules": [{"match": "^slow", "reply": "slow done", "think": 60}]}  # else: "echo: {text}"


def write_flow(folder: Path, name: str, schedule: str = "0 3 * * *", body: str = "Hello from the flow.",
               script: str | None = None, extra: str = "", provider: str | None = "scripted") -> Path:
    """A flow file in CAO's format; `script` is a shell script's body, saved (executable) beside it."""
    lines = ["---", f"name: {name}", f'schedule: "{schedule}"', "agent_profile: developer"]
    if provider:
        lines.append(f"provider: {provider}")
    if script is not None:
        gate = folder / f"{name}-gate.sh"
        gate.write_text("#!/bin/sh\n" + script)
        gate.chmod(0o755)
        lines.append(f"script: ./{gate.name}")
    path = folder / f"{name}.md"
    path.write_text("\n".join(lines) + ("\n" + extra if extra else "") + "\n---\n" + body + "\n")
    return path


def add(c, path: Path, **kw):
    return c.call("flow.add", {"text": path.read_text(), "path": str(path), **kw})


def history(c, name: str) -> list:
    return c.call("flow.history", {"name": name}).runs


def settled_history(c, name: str, count: int, wait_for) -> list:
    """The flow's runs once there are `count` and none is still waiting for its answer."""
    return wait_for(lambda: (runs := history(c, name)) and len(runs) >= count
                    and all(r.outcome != "launched" for r in runs) and runs, f"{count} settled runs of {name}")


@pytest.fixture
def rules_daemon(daemon_factory):
    d = daemon_factory.new(start=False)
    d.env["CAO_SCRIPTED_RULES"] = json.dumps(RULES)
    return d.start()


def test_the_gate_s_values_fill_the_prompt_the_agent_gets_and_its_answer_is_kept(rules_daemon, tmp_path, wait_for):
    c = rules_daemon.client()
    path = write_flow(tmp_path, "gated", body="Triage [[repo]]: [[count]] issues labelled [[label]].",
                      script='echo \'{"execute": true, "output": {"repo": "caod", "count": 3, "label": "bug"}}\'\n')
    info = add(c, path)
    assert info.script == str(tmp_path / "gated-gate.sh") and info.session == "cao-flow-gated"
    run = c.call("flow.run", {"name": "gated"}, timeout=60)
    assert (run.outcome, run.trigger, run.session) == ("launched", "manual", "cao-flow-gated")
    (done,) = settled_history(c, "gated", 1, wait_for)
    # the scripted agent echoes its first input: the prompt, filled
    assert done.outcome == "completed" and done.answer == "echo: Triage caod: 3 issues labelled bug."
    assert done.agent == run.agent and done.ended_at >= done.started_at
    session = c.call("session.get", {"session": "cao-flow-gated"})
    assert session.supervisor == run.agent and session.cwd == str(tmp_path)
    shown = c.call("flow.show", {"name": "gated"})
    assert shown.last_run.answer == done.answer and "[[repo]]" in shown.prompt
    # and people, sinks and plugins hear of it: one flow event per outcome
    flows = [e for e in c.call("events.list", {"limit": 1000}).events if e.kind.value == "flow"]
    assert [(e.detail["flow"], e.detail["run"], e.detail["state"], e.agent) for e in flows] == [
        ("gated", run.id, "launched", run.agent), ("gated", run.id, "completed", run.agent)]


def test_execute_false_is_a_skipped_run_and_launches_nothing(daemon, tmp_path):
    c = daemon.client()
    add(c, write_flow(tmp_path, "quiet", script='echo \'{"execute": false, "output": {}}\'\n'))
    run = c.call("flow.run", {"name": "quiet"}, timeout=60)
    assert (run.outcome, run.reason, run.session) == ("skipped", "the script said execute: false", None)
    assert [r.outcome for r in history(c, "quiet")] == ["skipped"]
    (event,) = [e for e in c.call("events.list", {"limit": 1000}).events if e.kind.value == "flow"]
    assert (event.detail["state"], event.detail["reason"], event.agent) == (
        "skipped", "the script said execute: false", "")
    assert c.call("session.list", {"all": True}).sessions == []


def test_a_failing_script_fails_the_run_with_its_reason(daemon, tmp_path):
    c = daemon.client()
    add(c, write_flow(tmp_path, "broken", script="echo 'cannot reach the tracker' >&2\nexit 3\n"))
    add(c, write_flow(tmp_path, "garbled", script="echo not json\n"))
    add(c, write_flow(tmp_path, "stuck", script="sleep 30\n", extra="script_timeout: 1"))
    run = c.call("flow.run", {"name": "broken"}, timeout=60)
    assert run.outcome == "failed" and run.reason.endswith("broken-gate.sh exited 3: cannot reach the tracker")
    run = c.call("flow.run", {"name": "garbled"}, timeout=60)
    assert run.outcome == "failed" and "printed no JSON object" in run.reason and "'not json'" in run.reason
    started = time.monotonic()
    run = c.call("flow.run", {"name": "stuck"}, timeout=60)
    assert run.outcome == "failed" and run.reason.endswith("did not finish within 1s (killed)")
    assert time.monotonic() - started < 10
    assert c.call("session.list", {"all": True}).sessions == []
    assert [r.outcome for r in history(c, "broken")] == ["failed"]


def test_a_missing_variable_fails_the_run_naming_it(daemon, tmp_path):
    c = daemon.client()
    add(c, write_flow(tmp_path, "partial", body="Look at [[repo]] since [[since]].",
                      script='echo \'{"execute": true, "output": {"repo": "caod"}}\'\n'))
    run = c.call("flow.run", {"name": "partial"}, timeout=60)
    assert (run.outcome, run.reason) == ("failed", "the script's output has no value for [[since]]")
    assert c.call("session.list", {"all": True}).sessions == []


def test_a_cao_flow_file_runs_unchanged(daemon, tmp_path, wait_for):
    """CAO's own layout: no provider (the profile's is used), a bash gate beside the file that
    prints its verdict with printf, a field caod does not know (engine)."""
    c = daemon.client()
    c.call("profile.install", {"text": "---\nname: developer\ndescription: mine\nprovider: scripted\n---\nWork.\n"})
    log_file = tmp_path / "out" / "local-task.log"
    gate = tmp_path / "gate.sh"
    gate.write_text(f"""#!/usr/bin/env bash
set -euo pipefail
SKIP_FLAG="{tmp_path}/skip"
if [ -e "${{SKIP_FLAG}}" ]; then
    echo '{{"execute": false, "output": {{}}}}'
    exit 0
fi
printf '{{"execute": true, "output": {{"timestamp": "%s", "log_file": "%s"}}}}\\n' "2026-12-03T10:00:00Z" "{log_file}"
""")
    gate.chmod(0o755)
    flow = tmp_path / "local-task.md"
    flow.write_text("""---
name: local-task-demo
schedule: "*/10 * * * *"
agent_profile: developer
script: ./gate.sh
engine: v2
---

Append one line to `[[log_file]]` containing exactly this timestamp: [[timestamp]].
""")
    info = add(c, flow)
    assert (info.provider, info.session) == ("scripted", "cao-flow-local-task-demo")
    assert c.call("flow.run", {"name": "local-task-demo"}, timeout=60).outcome == "launched"
    (run,) = settled_history(c, "local-task-demo", 1, wait_for)
    assert run.answer == f"echo: Append one line to `{log_file}` containing exactly this timestamp: 2026-12-03T10:00:00Z."
    (tmp_path / "skip").touch()
    assert c.call("flow.run", {"name": "local-task-demo"}, timeout=60).reason == "the script said execute: false"


def test_a_run_while_the_previous_one_is_busy_is_skipped_not_stacked(rules_daemon, tmp_path, wait_for):
    c = rules_daemon.client()
    add(c, write_flow(tmp_path, "long", body="slow work"))
    first = c.call("flow.run", {"name": "long"}, timeout=60)
    assert first.outcome == "launched"
    wait_for(lambda: c.call("agent.get", {"agent": first.agent}).status.value == "processing", "the turn started")
    second = c.call("flow.run", {"name": "long"}, timeout=60)
    assert second.outcome == "skipped" and second.session == "cao-flow-long"
    assert second.reason == f"the previous run's session cao-flow-long is still busy ({first.agent} is processing)"
    assert len(c.call("session.get", {"session": "cao-flow-long"}).agents) == 1  # nothing stacked
    assert [r.outcome for r in history(c, "long")] == ["launched", "skipped"]


def test_an_idle_previous_session_is_replaced_by_the_next_run(daemon, tmp_path, wait_for):
    c = daemon.client()
    add(c, write_flow(tmp_path, "again"))
    first = c.call("flow.run", {"name": "again"}, timeout=60)
    settled_history(c, "again", 1, wait_for)
    second = c.call("flow.run", {"name": "again"}, timeout=60)
    assert second.outcome == "launched" and second.agent != first.agent
    assert c.call("agent.get", {"agent": first.agent}).status.value == "exited"
    runs = settled_history(c, "again", 2, wait_for)
    assert [r.outcome for r in runs] == ["completed", "completed"]  # the first's answer stays its answer


def test_a_session_started_again_after_a_restart_is_not_busy(daemon_factory, tmp_path, wait_for):
    """The previous run's session, idle when caod was killed, comes back starting with nothing
    queued: the next run replaces it (it is not skipped as busy)."""
    first = daemon_factory.new()
    c = first.client()
    add(c, write_flow(tmp_path, "back"))
    old = c.call("flow.run", {"name": "back"}, timeout=60)
    settled_history(c, "back", 1, wait_for)
    first.kill()  # a crash: its live sessions' agents are started again
    first.reap_agents()
    second = daemon_factory.same(first)
    c = second.client()
    assert c.call("agent.get", {"agent": old.agent}).status.value in ("starting", "idle")  # started again
    run = c.call("flow.run", {"name": "back"}, timeout=60)
    assert run.outcome == "launched" and run.agent != old.agent, run.reason
    assert [r.outcome for r in settled_history(c, "back", 2, wait_for)] == ["completed", "completed"]


def _offset_to(target: float) -> float:
    return target - time.time()


def test_a_flow_due_every_minute_fires_at_the_minute_not_before(daemon_factory, tmp_path, wait_for):
    """The daemon's clock is set to 12 s before a minute boundary B; the flow is added at
    B-2 s (its clock), and its run must start at B: not earlier, and not a minute later."""
    boundary = math.ceil((time.time() + 120) / 60) * 60
    d = daemon_factory.new(start=False)
    offset = _offset_to(boundary - 12)
    d.env["CAOD_FLOW_CLOCK_OFFSET"] = repr(offset)
    d.start()
    c = d.client()
    while boundary - 2 - (time.time() + offset) < 0.5:  # a slow start (a loaded machine): the next minute
        boundary += 60
    time.sleep(boundary - 2 - (time.time() + offset))  # test-side pacing to B-2 s on the daemon's clock
    info = add(c, write_flow(tmp_path, "minutely", schedule="* * * * *"))
    assert info.next_run == boundary
    assert c.call("flow.list", {}).next_run == boundary
    time.sleep(max(0.0, boundary - 0.5 - (time.time() + offset)))
    assert history(c, "minutely") == []  # B-0.5 s: nothing yet
    (run,) = wait_for(lambda: history(c, "minutely"), "the run at the boundary", timeout=10)
    assert run.trigger == "schedule" and run.due == boundary
    assert boundary <= run.started_at < boundary + 5, run.started_at - boundary  # ~at once, on a loaded machine
    assert c.call("flow.list", {}).next_run == boundary + 60  # the timer is armed for the next minute


def _downtime(daemon_factory, tmp_path, misfire: str = ""):
    """A daemon adds an hourly flow and stops; the next starts with its clock three hours
    and a half later (the middle of an hour), as after a long downtime."""
    first = daemon_factory.new()
    c = first.client()
    add(c, write_flow(tmp_path, "hourly", schedule="0 * * * *", extra=misfire))
    first.stop()
    target = (math.floor(time.time() / 3600) + 3) * 3600 + 1800
    second = daemon_factory.same(first, start=False)
    second.env["CAOD_FLOW_CLOCK_OFFSET"] = repr(_offset_to(target))
    second.start()
    return first, second, target


def test_runs_missed_during_downtime_run_once_at_start(daemon_factory, tmp_path, wait_for):
    first, second, target = _downtime(daemon_factory, tmp_path)
    c = second.client()
    (run,) = settled_history(c, "hourly", 1, wait_for)
    assert (run.trigger, run.outcome) == ("missed", "completed")
    assert run.due == target - 1800  # the latest slot missed, not the first
    info = c.call("flow.show", {"name": "hourly"})
    assert info.next_run == target + 1800
    time.sleep(1.0)  # nothing else is owed: a second run would show by now
    assert len(history(c, "hourly")) == 1
    second.stop()  # and the slot stays dealt with across another restart
    third = daemon_factory.same(second, start=False)
    third.env["CAOD_FLOW_CLOCK_OFFSET"] = second.env["CAOD_FLOW_CLOCK_OFFSET"]
    third.start()
    c = third.client()
    time.sleep(1.0)
    assert [r.id for r in history(c, "hourly")] == [run.id]


def test_misfire_skip_records_the_missed_slots_and_runs_nothing(daemon_factory, tmp_path, wait_for):
    first, second, target = _downtime(daemon_factory, tmp_path, misfire="misfire: skip")
    c = second.client()
    (run,) = wait_for(lambda: history(c, "hourly"), "the missed slots' record")
    assert (run.trigger, run.outcome, run.session) == ("missed", "skipped", None)
    assert run.reason.startswith("missed ") and run.reason.endswith(
        "scheduled runs while caod was not running or the machine slept (misfire: skip)")
    assert c.call("session.list", {"all": True}).sessions == []
    assert c.call("flow.show", {"name": "hourly"}).next_run == target + 1800


def test_disable_enable_remove_rearm_the_timer(daemon, tmp_path):
    c = daemon.client()
    add(c, write_flow(tmp_path, "early", schedule="0 * * * *"))  # within the hour
    add(c, write_flow(tmp_path, "late", schedule="0 0 1 1 *"))  # new year
    listed = c.call("flow.list", {})
    assert listed.next_flow == "early"
    assert c.call("flow.disable", {"name": "early"}).next_run is None
    assert c.call("flow.list", {}).next_flow == "late"
    assert c.call("flow.enable", {"name": "early"}).next_run == listed.flows[0].next_run
    assert c.call("flow.list", {}).next_flow == "early"
    c.call("flow.remove", {"name": "early"})
    assert [f.name for f in c.call("flow.list", {}).flows] == ["late"]
    with pytest.raises(RpcFailure) as e:
        c.call("flow.show", {"name": "early"})
    assert e.value.code == ErrorCode.NO_SUCH_FLOW and e.value.message == "no such flow 'early' (flows: late)"
    with pytest.raises(RpcFailure) as e:  # a second file with a taken name
        add(c, write_flow(tmp_path / "..", "late"))
    assert e.value.code == ErrorCode.NAME_TAKEN
    assert add(c, write_flow(tmp_path, "late", schedule="5 0 1 1 *"), replace=True).schedule == "5 0 1 1 *"


def test_flows_and_their_runs_are_in_sqlite_with_private_modes(daemon, tmp_path):
    c = daemon.client()
    add(c, write_flow(tmp_path, "kept", script='echo \'{"execute": false}\'\n'))
    c.call("flow.run", {"name": "kept"}, timeout=60)
    db = sqlite3.connect(daemon.home / "caod.db")
    try:
        assert db.execute("SELECT name, enabled FROM flows").fetchall() == [("kept", 1)]
        assert db.execute("SELECT flow, trigger, outcome, reason FROM flow_runs").fetchall() == [
            ("kept", "manual", "skipped", "the script said execute: false")]
    finally:
        db.close()
    assert stat.S_IMODE(os.stat(daemon.home / "caod.db").st_mode) == 0o600
