"""caoctl flow ...: the real caoctl against a real daemon; refusals at add are one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

GATE = '#!/bin/sh\necho \'{"execute": true, "output": {"who": "the team"}}\'\n'


def flow_file(folder: Path, name: str = "standup", schedule: str = "0 9 * * 1-5", profile: str = "developer",
              script: str | None = "./gate.sh", body: str = "Write the standup for [[who]].") -> Path:
    lines = ["---", f"name: {name}", f'schedule: "{schedule}"', f"agent_profile: {profile}", "provider: scripted"]
    if script:
        lines.append(f"script: {script}")
    path = folder / f"{name}.md"
    path.write_text("\n".join(lines) + "\n---\n" + body + "\n")
    return path


@pytest.fixture
def gate(tmp_path) -> Path:
    path = tmp_path / "gate.sh"
    path.write_text(GATE)
    path.chmod(0o755)
    return path


@pytest.mark.parametrize("change, problem", [
    (dict(schedule="*/5 * * *"), "schedule '*/5 * * *' is not a 5-field cron expression"),
    (dict(schedule="0 25 * * *"), "schedule '0 25 * * *' is not a valid cron expression"),
    (dict(profile="nobody"), "agent_profile: no such profile 'nobody'"),
    (dict(script="./missing.sh"), "missing.sh cannot be run: no such file"),
])
def test_add_refuses_what_cannot_run_in_one_line(daemon, tmp_path, gate, caoctl, one_line_error, change, problem):
    path = flow_file(tmp_path, **change)
    r = caoctl(daemon, "flow", "add", str(path))
    one_line_error(r, code=1, contains=f"caoctl: invalid flow {path}: ")
    assert problem in r.stderr
    assert caoctl(daemon, "flow", "list").stdout.strip() == "no flows"


def test_add_refuses_a_script_it_cannot_run(daemon, tmp_path, gate, caoctl, one_line_error):
    gate.chmod(0o644)
    path = flow_file(tmp_path)
    one_line_error(caoctl(daemon, "flow", "add", str(path)), code=1,
                   contains=f"script {gate} cannot be run: not executable (chmod +x it")
    gate.chmod(0o000)
    one_line_error(caoctl(daemon, "flow", "add", str(path)), code=1, contains=f"script {gate} cannot be run: not ")
    one_line_error(caoctl(daemon, "flow", "add", str(tmp_path / "nope.md")), code=1, contains="cannot read")


def test_the_flow_commands(daemon, tmp_path, gate, caoctl, caoctl_json, one_line_error, wait_for):
    path = flow_file(tmp_path)
    r = caoctl(daemon, "flow", "add", str(path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("added flow standup: 0 9 * * 1-5 (developer on scripted), next run 20")
    one_line_error(caoctl(daemon, "flow", "add", str(path)), code=1, contains="a flow named 'standup' exists")
    (listed,) = caoctl_json(daemon, "flow", "list")
    assert {k: listed[k] for k in ("name", "schedule", "enabled", "session", "script")} == {
        "name": "standup", "schedule": "0 9 * * 1-5", "enabled": True, "session": "cao-flow-standup",
        "script": str(gate)}
    assert listed["next_run"] > 0 and "last_run" not in listed
    r = caoctl(daemon, "flow", "list")
    header, line = r.stdout.splitlines()
    assert header.split() == ["NAME", "SCHEDULE", "NEXT", "RUN", "LAST", "RUN", "OUTCOME", "ENABLED"]
    assert line.startswith("standup") and "never run" in line and line.endswith("yes")

    r = caoctl(daemon, "flow", "run", "standup")
    assert r.returncode == 0 and r.stdout.startswith("flow standup: launched session cao-flow-standup"), r.stderr
    runs = wait_for(lambda: (h := caoctl_json(daemon, "flow", "history", "standup")) and h[-1]["outcome"] != "launched"
                    and h, "the run's answer")
    assert runs[-1]["answer"] == "echo: Write the standup for the team."
    caoctl(daemon, "flow", "run", "standup")
    assert len(caoctl_json(daemon, "flow", "history", "standup", "-n", "1")) == 1
    r = caoctl(daemon, "flow", "history", "standup", "-n", "5")
    assert r.stdout.splitlines()[0].split() == ["RUN", "STARTED", "TRIGGER", "OUTCOME", "SESSION", "ANSWER", "/",
                                                "REASON"]
    assert "manual" in r.stdout.splitlines()[1] and "echo: Write the standup for the team." in r.stdout

    r = caoctl(daemon, "flow", "show", "standup")
    assert "schedule:  0 9 * * 1-5 (local time)" in r.stdout and "  Write the standup for [[who]]." in r.stdout
    assert caoctl_json(daemon, "flow", "show", "standup")["prompt"] == "Write the standup for [[who]]."

    r = caoctl(daemon, "doctor", "--json")
    (check,) = [c for c in json.loads(r.stdout) if c["check"] == "flows"]
    assert check["ok"] and check["detail"].startswith("1 flow (1 enabled); next run: standup at 20")
    assert caoctl_json(daemon, "flow", "disable", "standup")["enabled"] is False
    (check,) = [c for c in json.loads(caoctl(daemon, "doctor", "--json").stdout) if c["check"] == "flows"]
    assert check["detail"] == "1 flow (0 enabled); next run: none"
    r = caoctl(daemon, "flow", "enable", "standup")
    assert r.returncode == 0 and r.stdout.startswith("enabled flow standup, next run 20")
    assert caoctl(daemon, "flow", "remove", "standup").stdout.strip() == "removed flow standup"
    one_line_error(caoctl(daemon, "flow", "show", "standup"), code=1, contains="caoctl: no such flow 'standup'")
    r = caoctl(daemon, "flow", "history", "standup", "--json")
    assert r.returncode == 1 and json.loads(r.stderr)["error"]["message"] == "no such flow 'standup' (flows: none)"


def test_a_failed_run_exits_1_with_its_reason(daemon, tmp_path, caoctl, one_line_error):
    gate = tmp_path / "gate.sh"
    gate.write_text("#!/bin/sh\nexit 4\n")
    gate.chmod(0o755)
    caoctl(daemon, "flow", "add", str(flow_file(tmp_path)))
    one_line_error(caoctl(daemon, "flow", "run", "standup"), code=1,
                   contains=f"caoctl: flow standup: failed (script {gate} exited 4)")
    r = caoctl(daemon, "doctor")
    assert f"! flows: 1 flow (1 enabled); next run: standup at " in r.stdout
    assert f"last run of standup failed: script {gate} exited 4" in r.stdout
