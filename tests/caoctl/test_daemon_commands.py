"""caoctl daemon start|stop|status and caoctl demo, on a daemon they start themselves."""

from __future__ import annotations

import json
import os
import stat

import pytest


@pytest.fixture
def fresh(daemon_factory):
    """Socket and home paths with no daemon behind them yet."""
    d = daemon_factory.new(start=False)
    yield d
    # whatever the test started through caoctl, stop it
    from subprocess import run
    import sys

    run([sys.executable, "-m", "caoctl", "daemon", "stop"], env=d.env, capture_output=True, timeout=60)


def test_start_is_idempotent_and_stop_removes_the_socket(fresh, caoctl, caoctl_json):
    r = caoctl(fresh, "daemon", "start")
    assert r.returncode == 0 and "started" in r.stdout, r.stderr
    assert stat.S_IMODE(os.stat(fresh.socket).st_mode) == 0o600
    again = caoctl_json(fresh, "daemon", "start")
    assert again["started"] is False and again["running"] is True
    st = caoctl_json(fresh, "daemon", "status")
    assert st["running"] is True and st["pid"] == again["pid"] and st["socket"] == str(fresh.socket)
    agent = caoctl(fresh, "spawn", "-p", "scripted", "--wait").stdout.strip()
    caoctl(fresh, "spawn", "-p", "scripted")
    caoctl(fresh, "kill", agent)
    agent = caoctl(fresh, "spawn", "-p", "scripted", "--wait").stdout.strip()
    text = caoctl(fresh, "daemon", "status").stdout
    assert f"pid {st['pid']}" in text and f"socket: {fresh.socket}" in text, text
    assert "agents: 2 live, 3 in all" in text, text
    pid = caoctl_json(fresh, "status", agent)["pid"]
    r = caoctl(fresh, "daemon", "stop")
    assert r.returncode == 0 and "stopped" in r.stdout
    assert not fresh.socket.exists()
    # stop returns only once the daemon is down: it logs this last, just before it drops its clients
    assert '"caod stopped"' in (fresh.home / "caod.log").read_text()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the daemon took its agent down with it (and reaped it)
    assert caoctl(fresh, "daemon", "stop").stdout.strip() == "caod is not running"
    status = caoctl(fresh, "daemon", "status", "--json")
    assert status.returncode == 3 and json.loads(status.stdout)["running"] is False


def test_start_reports_why_the_daemon_failed(fresh, caoctl, one_line_error):
    fresh.socket_dir.chmod(0o700)
    fresh.socket.write_text("not a socket")  # caod refuses to replace a regular file
    one_line_error(caoctl(fresh, "daemon", "start", "--timeout", "20"), 1, "is not a socket")


def test_demo_runs_a_team_and_cleans_up(fresh, caoctl, tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    r = caoctl(fresh, "demo", "--json", timeout=120, env={**fresh.env, "TMPDIR": str(tmp)})
    assert r.returncode == 0, r.stderr
    assert list(tmp.iterdir()) == []  # the team's temporary folder is gone with the team
    data = json.loads(r.stdout)
    team = {a["role"]: a for a in data["agents"]}
    assert set(team) == {"supervisor", "developer", "reviewer"}
    sup, dev, rev = team["supervisor"], team["developer"], team["reviewer"]
    # handoff: the developer answered and was ended; the supervisor quoted it exactly
    assert dev["status"] == "exited"
    assert dev["answer"] == "Patched src/dates.py to keep UTC offsets; added test_parse_date_utc; 42 tests pass."
    # assign: the reviewer stays and reported back; the report reached the supervisor
    assert rev["status"] == "completed" and rev["answer"] == f"Reported to {sup['id']}."
    assert sup["answer"] == f"Noted from {rev['id']}: LGTM: the fix is correct and covered by a test."
    spawned = {e["agent"]: e["detail"] for e in data["events"] if e["kind"] == "spawned"}
    assert spawned[dev["id"]]["parent"] == sup["id"] and spawned[rev["id"]]["parent"] == sup["id"]
    delivered = [e for e in data["events"] if e["kind"] == "message" and e["detail"]["state"] == "delivered"]
    assert [d["detail"]["from"] for d in delivered if d["agent"] == sup["id"]] == ["user", "user", rev["id"]]
    # the demo started its own daemon, so it stopped it again
    assert caoctl(fresh, "daemon", "status").returncode == 3


def test_demo_text_output_and_keep(fresh, caoctl, caoctl_json):
    r = caoctl(fresh, "demo", "--keep", timeout=120)
    assert r.returncode == 0, r.stderr
    for line in ("started by supervisor (profile developer)", "started by supervisor (profile reviewer)",
                 "message delivered from reviewer", "Noted from", "The team:", "keeps running"):
        assert line in r.stdout, r.stdout
    # --keep: the daemon it started and the session are still there (the fixture stops them)
    sessions = caoctl_json(fresh, "session", "list")
    assert len(sessions) == 1 and sessions[0]["name"].startswith("demo-") and sessions[0]["name"] in r.stdout
    sup = next(a for a in sessions[0]["agents"] if a["id"] == sessions[0]["supervisor"])
    assert sup["status"] == "completed"


# A folder that holds packages named like ours, as the parent of a clone does (~ with ~/caod).
# Anything started there with `python -m` (not -P) imports these and fails.
SHADOWED = ("caod", "caoctl", "providers")
WHO_RULES = {"rules": [{"match": "^who$", "mcp_call": {"server": "caod", "tool": "list_agents", "args": {}},
                        "reply": "agents: {result}", "reply_error": "bridge said: {error}", "think": 0}]}


@pytest.fixture
def shadowing_folder(tmp_path):
    for name in SHADOWED:
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(
            f"raise ImportError('imported the {name}/ of the current folder')\n")
    return tmp_path


def test_a_folder_holding_packages_of_our_names_breaks_nothing(fresh, shadowing_folder):
    import subprocess
    import sys
    from pathlib import Path

    installed = Path(sys.executable).parent / "caoctl"  # the entry point people run
    if not installed.exists():
        pytest.skip("caoctl is not installed beside this Python (pip install -e .)")

    def run(*args):
        return subprocess.run([str(installed), *args], cwd=shadowing_folder, env=fresh.env, capture_output=True,
                              text=True, timeout=90)

    r = run("daemon", "start")
    assert r.returncode == 0 and "started" in r.stdout, (r.stdout, r.stderr)
    r = run("spawn", "-p", "scripted", "--cwd", str(shadowing_folder), "--env",
            "CAO_SCRIPTED_RULES=" + json.dumps(WHO_RULES), "--wait")
    assert r.returncode == 0, (r.stdout, r.stderr)  # the scripted agent itself started there
    agent = r.stdout.strip()
    r = run("send", agent, "who", "--wait", "--timeout", "60")
    # The MCP bridge started in that folder answered with the daemon's own refusal (not in a
    # session), so it ran, read the agent's token and reached the daemon; a dead bridge says
    # "Connection closed".
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert r.stdout.strip().endswith(f"caod refused: agent {agent} is not part of a session"), r.stdout


HANDOFF = {"rules": [
    {"match": r"^delegate: (?P<task>.+)$",
     "mcp_call": {"server": "caod", "tool": "handoff", "args": {"agent_profile": "developer", "message": "{task}"}},
     "reply": "worker said: {result}", "reply_error": "handoff failed: {error}"},
    {"match": r"^build (?P<what>\w+)", "reply": "built {what}"},
]}


def test_launch_starts_a_daemon_and_isolates_every_home(fresh, caoctl, caoctl_json, tmp_path):
    r = caoctl(fresh, "launch", "--agents", "code_supervisor", "--provider", "scripted", "--session-name", "iso",
               "--working-directory", str(tmp_path), "--headless", "--isolate-home",
               "-e", f"CAO_SCRIPTED_RULES={json.dumps(HANDOFF)}", "delegate: build parser")
    assert r.returncode == 0, r.stderr
    st = caoctl_json(fresh, "daemon", "status")
    assert r.stderr.strip() == f"no daemon was running: started caod {st['version']} (pid {st['pid']}) on {fresh.socket}"
    assert r.stdout.startswith("session iso: supervisor ")
    sup = caoctl_json(fresh, "session", "status", "iso")["supervisor"]
    assert caoctl(fresh, "wait", sup, "-s", "completed", "--timeout", "30").returncode == 0
    assert caoctl(fresh, "output", sup, "--last").stdout.strip() == "worker said: built parser"
    agents = caoctl_json(fresh, "session", "status", "iso")["agents"]
    assert {a["role"] for a in agents} == {"supervisor", "developer"}
    for a in agents:  # the supervisor and the worker it handed off to: each its own private HOME
        home = fresh.home / "agents" / a["id"] / "home"
        assert home.is_dir() and stat.S_IMODE(home.stat().st_mode) == 0o700, a["role"]
    # a daemon runs now: the next launch uses it and says nothing about it
    r = caoctl(fresh, "launch", "--agents", "developer", "--provider", "scripted", "--session-name", "plain",
               "--working-directory", str(tmp_path), "--headless")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    plain = caoctl_json(fresh, "session", "status", "plain")["supervisor"]
    assert not (fresh.home / "agents" / plain / "home").exists()  # not isolated unless asked
