"""caoctl status/output/ls of agents from before a restart, and caoctl gc."""

from __future__ import annotations

import json

TURN = {"rules": [{"match": "^say (?P<w>\\w+)$", "reply": "said {w}"}]}


def test_status_output_and_ls_of_an_agent_from_before_a_restart(daemon, daemon_factory, caoctl, caoctl_json,
                                                              ready_agent, send):
    c = daemon.client()
    info = ready_agent(c, TURN, name="before")
    assert send(c, info.id, "say it").answer == "said it"
    c.call("agent.kill", {"agent": info.id}, timeout=20)
    assert daemon.stop() == 0
    again = daemon_factory.same(daemon)

    r = caoctl(again, "status", "before")
    assert r.returncode == 0, r.stderr
    assert f"id:       {info.id}" in r.stdout and "exited (143)" in r.stdout
    r = caoctl(again, "output", "before", "--last")
    assert (r.returncode, r.stdout) == (0, "said it\n"), r.stderr
    assert "● said it" in caoctl(again, "output", "before").stdout
    assert [(a["id"], a["status"], a["exit_code"]) for a in caoctl_json(again, "ls")] == [(info.id, "exited", 143)]
    assert caoctl(again, "ls", "--live").stdout == "no agents\n"
    assert caoctl(again, "logs", "--agent", "before").stdout.splitlines()[-1] == "  ready · ? for help"


def test_gc_command(daemon, caoctl, caoctl_json, ready_agent, one_line_error):
    c = daemon.client()
    info = ready_agent(c, name="done")
    c.call("agent.kill", {"agent": info.id}, timeout=20)

    r = caoctl(daemon, "gc", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert info.id in r.stdout and "would remove 1 exited agent (" in r.stdout
    dry = caoctl_json(daemon, "gc", "--dry-run")
    assert dry["dry_run"] is True and [a["id"] for a in dry["agents"]] == [info.id]
    assert caoctl(daemon, "gc", "--older-than", "1h").stdout == "nothing to remove\n"
    r = caoctl(daemon, "gc")
    assert r.returncode == 0 and "removed 1 exited agent (" in r.stdout, r
    one_line_error(caoctl(daemon, "status", info.id), 1, f"no such agent: {info.id}")
    assert json.loads(caoctl(daemon, "gc", "--json").stdout)["agents"] == []
    r = caoctl(daemon, "gc", "--older-than", "soon")
    assert r.returncode != 0 and "bad duration 'soon'" in r.stderr and "Traceback" not in r.stderr
