"""How caoctl fails: one `caoctl: ...` line, an exit code per kind of failure, JSON with --json.

Exit codes: 1 failed, 2 usage, 3 waiting, 69 no daemon, 124 timeout (caoctl.errors).
"""

from __future__ import annotations

import json

import pytest

USAGE_ERRORS = [
    (["spawn"], "missing option '--provider'", "caoctl spawn"),
    (["spawn", "-p", "scripted", "--bogus"], "no such option '--bogus'", "caoctl spawn"),
    (["spawn", "-p", "scripted", "--rows", "many"], "invalid value for '--rows'", "caoctl spawn"),
    (["spawn", "-p", "scripted", "--env", "NOEQUALS"], "expected KEY=VALUE, got 'NOEQUALS'", "caoctl spawn"),
    (["send"], "missing argument 'AGENT'", "caoctl send"),
    (["ls", "extra"], "unexpected extra argument (extra)", "caoctl ls"),
    (["no-such-command"], "no such command 'no-such-command'", "caoctl"),
    (["daemon", "nope"], "no such command 'nope'", "caoctl daemon"),
    (["shutdown"], "--session", "caoctl shutdown"),
]


@pytest.mark.parametrize("args, says, where", USAGE_ERRORS)
def test_usage_errors_are_one_line_and_exit_2(shared_daemon, caoctl, one_line_error, args, says, where):
    r = caoctl(shared_daemon, *args)
    one_line_error(r, 2, says)
    assert r.stderr.startswith("caoctl: ") and r.stderr.rstrip().endswith(f"(see {where} --help)"), r.stderr
    assert r.stdout == ""


def test_no_daemon_has_its_own_exit_code(daemon_factory, caoctl, one_line_error):
    idle = daemon_factory.new(start=False)
    for args in (["ls"], ["status", "x"], ["send", "x", "hello", "--wait"]):
        one_line_error(caoctl(idle, *args), 69, "no daemon answers")


def json_error(r) -> dict:
    """The one JSON line a --json command printed on stderr for its error (stdout has none)."""
    assert r.stdout == "", r.stdout
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    error = json.loads(lines[0])["error"]
    assert error["exit_code"] == r.returncode, (error, r.returncode)
    return error


def test_with_json_errors_are_json(daemon_factory, caoctl, ready_agent):
    idle = daemon_factory.new(start=False)
    error = json_error(caoctl(idle, "ls", "--json"))
    assert error["code"] == "no_daemon" and error["exit_code"] == 69 and "no daemon answers" in error["message"]

    d = daemon_factory.new()
    error = json_error(caoctl(d, "spawn", "--json", "-p", "scripted", "--rows", "many"))
    assert error["code"] == "usage" and error["exit_code"] == 2 and "invalid value for '--rows'" in error["message"]
    error = json_error(caoctl(d, "ls", "--bogus", "--json"))  # before --json is read: still JSON
    assert error["code"] == "usage" and "no such option '--bogus'" in error["message"]

    error = json_error(caoctl(d, "status", "nobody", "--json"))
    assert error == {"code": "failed", "exit_code": 1, "message": "no such agent: nobody", "rpc_code": -32001}

    agent = ready_agent(d.client())
    error = json_error(caoctl(d, "wait", agent.id, "--status", "completed", "--timeout", "0.2", "--json"))
    assert error["code"] == "timeout" and error["exit_code"] == 124 and error["rpc_code"] == -32003

    # --json given to the command only: a plain error elsewhere stays a plain line
    r = caoctl(d, "status", "nobody")
    assert r.returncode == 1 and r.stderr == "caoctl: no such agent: nobody\n"


def test_an_error_that_echoes_hostile_input_cannot_paint_the_terminal(shared_daemon, caoctl, one_line_error):
    r = caoctl(shared_daemon, "status", "evil\x1b[31mred\x07")
    one_line_error(r, 1, "evil\\x1b[31mred\\x07")
    assert "\x1b" not in r.stderr and "\x07" not in r.stderr
