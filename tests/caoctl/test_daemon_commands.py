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
    pid = caoctl_json(fresh, "status", agent)["pid"]
    r = caoctl(fresh, "daemon", "stop")
    assert r.returncode == 0 and "stopped" in r.stdout
    assert not fresh.socket.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the daemon took its agent down with it (and reaped it)
    assert caoctl(fresh, "daemon", "stop").stdout.strip() == "caod is not running"
    status = caoctl(fresh, "daemon", "status", "--json")
    assert status.returncode == 3 and json.loads(status.stdout)["running"] is False


def test_start_reports_why_the_daemon_failed(fresh, caoctl, one_line_error):
    fresh.socket_dir.chmod(0o700)
    fresh.socket.write_text("not a socket")  # caod refuses to replace a regular file
    one_line_error(caoctl(fresh, "daemon", "start", "--timeout", "20"), 1, "is not a socket")


def test_demo_runs_a_team_and_cleans_up(fresh, caoctl):
    r = caoctl(fresh, "demo", "--json", timeout=120)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    answers = {a["role"]: a for a in data["agents"]}
    assert set(answers) == {"planner", "coder", "tester"}
    assert all(a["status"] == "completed" for a in answers.values())
    assert answers["coder"]["answer"] == "Patch applied: 1 file changed, 4 insertions(+)"
    assert answers["planner"]["answer"].splitlines()[0] == "Plan:"
    news = [e["new"] for e in data["events"] if e["role"] == "coder"]
    assert news[:3] == ["idle", "processing", "waiting_user_answer"] and news[-1] == "completed"
    # the demo started its own daemon, so it stopped it again
    assert caoctl(fresh, "daemon", "status").returncode == 3


def test_demo_text_output(fresh, caoctl):
    r = caoctl(fresh, "demo", timeout=120)
    assert r.returncode == 0, r.stderr
    assert "asks permission" in r.stdout and "Answers:" in r.stdout
    assert r.stdout.count("completed") >= 6  # three transitions plus three summary rows
