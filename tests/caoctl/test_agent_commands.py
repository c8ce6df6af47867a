"""caoctl spawn / ls / status / send / wait / output / events / kill, as a user runs them."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time

from caod.protocol import MAX_FRAME

APPROVAL = {"default": {"approval": "Delete the build folder?", "reply": "deleted", "think": 0.05}}


def test_spawn_prints_id_and_json(daemon, caoctl, caoctl_json):
    r = caoctl(daemon, "spawn", "--provider", "scripted", "--name", "w1", "--wait")
    assert r.returncode == 0, r.stderr
    agent_id = r.stdout.strip()
    assert len(agent_id) == 8 and all(ch in "0123456789abcdef" for ch in agent_id)
    info = caoctl_json(daemon, "status", "w1")
    assert info["id"] == agent_id
    assert info["status"] == "idle"
    for key in ("id", "name", "provider", "status", "pid", "cwd", "created_at", "exit_code"):
        assert key in info
    data = caoctl_json(daemon, "spawn", "-p", "scripted", "--env", "CAO_TEST_MARK=1", "--arg", "--model",
                       "--arg", "zebra", "--rows", "30", "--cols", "90", "--wait")
    assert data["provider"] == "scripted" and data["status"] == "idle"
    # every option reaches the agent: its size, its argv (the CLI shows the model) and its environment
    assert (data["rows"], data["cols"]) == (30, 90)
    assert data["command"][-2:] == ["--model", "zebra"]
    assert "model: zebra" in caoctl(daemon, "output", data["id"]).stdout
    assert b"CAO_TEST_MARK=1" in open(f"/proc/{data['pid']}/environ", "rb").read().split(b"\0")


def test_spawn_yolo_starts_the_cli_with_its_yolo_flags(daemon, caoctl_json):
    data = caoctl_json(daemon, "spawn", "-p", "scripted", "--yolo", "--wait")
    assert data["status"] == "idle" and "--yolo" in data["command"]
    plain = caoctl_json(daemon, "spawn", "-p", "scripted", "--wait")
    assert "--yolo" not in plain["command"]


def test_spawn_wait_fails_when_the_agent_exits_while_starting(daemon, caoctl, one_line_error):
    # an unknown flag: the scripted CLI's argparse exits 2 before it is ever ready
    one_line_error(caoctl(daemon, "spawn", "-p", "scripted", "--arg", "--no-such-flag", "--wait"), 1,
                   "exited while starting (exit code 2)")


def test_spawn_bad_input_is_one_clear_line(daemon, caoctl, one_line_error):
    one_line_error(caoctl(daemon, "spawn", "--provider", "nope"), 1, "unknown provider 'nope'")
    one_line_error(caoctl(daemon, "spawn", "-p", "scripted", "--cwd", "/no/such/dir"), None, "does not exist")
    one_line_error(caoctl(daemon, "spawn", "-p", "scripted", "--env", "NOEQUALS"), 2, "KEY=VALUE")  # usage
    caoctl(daemon, "spawn", "-p", "scripted", "--name", "dup")
    one_line_error(caoctl(daemon, "spawn", "-p", "scripted", "--name", "dup"), 1, "already named 'dup'")


def test_ls_and_status(daemon, caoctl, caoctl_json):
    r = caoctl(daemon, "ls")
    assert r.returncode == 0 and r.stdout.strip() == "no agents"
    ids = [caoctl(daemon, "spawn", "-p", "scripted", "--wait").stdout.strip() for _ in range(2)]
    r = caoctl(daemon, "ls")
    assert r.stdout.splitlines()[0].split()[:4] == ["ID", "NAME", "PROVIDER", "STATUS"]
    assert all(i in r.stdout for i in ids)
    listed = caoctl_json(daemon, "ls")
    assert sorted(a["id"] for a in listed) == sorted(ids)
    caoctl(daemon, "kill", ids[0])
    assert [a["id"] for a in caoctl_json(daemon, "ls", "--live")] == [ids[1]]
    r = caoctl(daemon, "status", ids[1])
    assert "status:" in r.stdout and "idle" in r.stdout and ids[1] in r.stdout
    info = caoctl_json(daemon, "status", ids[1])
    fields = dict(line.split(None, 1) for line in r.stdout.splitlines())
    assert fields["pid:"] == str(info["pid"]) and fields["cwd:"] == info["cwd"], r.stdout


def test_send_wait_prints_the_answer(daemon, caoctl, caoctl_json):
    rules = {"rules": [{"match": "^sum", "reply": "line one\nline two", "think": 0.1},
                       {"match": "^many", "reply": "\n".join(f"row {i:02d}" for i in range(30))}]}
    agent = caoctl(daemon, "spawn", "-p", "scripted", "--rows", "12",
                   "-e", f"CAO_SCRIPTED_RULES={json.dumps(rules)}").stdout.strip()
    r = caoctl(daemon, "send", agent, "sum it up", "--wait")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "line one\nline two\n"
    data = caoctl_json(daemon, "send", agent, "hello", "--wait")
    assert data["answer"] == "echo: hello"
    assert data["agent"]["status"] == "completed"
    # stdin as the message
    r = caoctl(daemon, "send", agent, "-", "--wait", input="from stdin\n")
    assert r.stdout.strip() == "echo: from stdin"
    # a long answer scrolls: the screen has its end, --history has all of it
    assert caoctl(daemon, "send", agent, "many", "--wait").stdout.splitlines()[-1] == "row 29"
    screen = caoctl(daemon, "output", agent).stdout
    history = caoctl(daemon, "output", agent, "--history").stdout
    assert "row 29" in screen and "row 00" not in screen
    assert "● row 00" in history and "row 29" in history and history.index("row 00") < history.index("row 29")


def test_send_without_wait_then_wait_and_output(daemon, caoctl, caoctl_json, one_line_error):
    rules = {"default": {"reply": "slow answer", "think": 2}}
    agent = caoctl(daemon, "spawn", "-p", "scripted", "-e", f"CAO_SCRIPTED_RULES={json.dumps(rules)}").stdout.strip()
    one_line_error(caoctl(daemon, "output", agent, "--last"), 1, "has no answer on screen yet")
    r = caoctl(daemon, "send", agent, "go")
    assert r.returncode == 0 and r.stdout == ""
    # without --wait, send returns while the agent still works on it
    assert caoctl_json(daemon, "status", agent)["status"] == "processing"
    started = time.monotonic()
    r = caoctl(daemon, "wait", agent, "--status", "exited", "--timeout", "0.5")
    assert r.returncode == 124 and time.monotonic() - started < 4, (r.returncode, r.stderr)
    r = caoctl(daemon, "wait", agent, "--status", "completed", "--timeout", "20")
    assert r.returncode == 0 and r.stdout.strip() == "completed"
    assert caoctl(daemon, "output", agent, "--last").stdout.strip() == "slow answer"
    screen = caoctl(daemon, "output", agent).stdout
    assert "> go" in screen and "● slow answer" in screen and "\x1b" not in screen
    history = caoctl(daemon, "output", agent, "--history").stdout
    assert "scripted-agent" in history


def test_send_exit_codes(daemon, caoctl, one_line_error):
    rules = {"rules": [
        {"match": "^ask", "approval": "Proceed?", "reply": "done"},
        {"match": "^fail", "error": "model overloaded"},
        {"match": "^slow", "reply": "late", "think": 5},
    ]}
    agent = caoctl(daemon, "spawn", "-p", "scripted", "-e", f"CAO_SCRIPTED_RULES={json.dumps(rules)}").stdout.strip()
    one_line_error(caoctl(daemon, "send", agent, "ask first", "--wait"), 3, "waiting for an answer")
    r = caoctl(daemon, "send", agent, "1", "--wait")
    assert r.returncode == 0 and r.stdout.strip() == "done"
    one_line_error(caoctl(daemon, "send", agent, "fail now", "--wait"), 1, "status error")
    one_line_error(caoctl(daemon, "send", agent, "slow one", "--wait", "--timeout", "0.5"), 124, "did not finish")
    one_line_error(caoctl(daemon, "send", agent, "while busy"), 1, "busy")
    one_line_error(caoctl(daemon, "send", "nobody", "hi"), 1, "no such agent")
    one_line_error(caoctl(daemon, "send", agent, "\x1b\x03"), 1, "empty")


def test_send_refuses_a_text_over_the_frame_limit(daemon, caoctl, caoctl_json, one_line_error):
    agent = caoctl(daemon, "spawn", "-p", "scripted", "--wait").stdout.strip()
    r = caoctl(daemon, "send", agent, "-", "--wait", input="x" * (MAX_FRAME + 1), timeout=20)
    one_line_error(r, 1, f"at most {MAX_FRAME:,} bytes (1 MiB) per request")
    assert "too long" in r.stderr
    assert caoctl_json(daemon, "status", agent)["status"] == "idle"  # nothing was typed


def test_events_list_and_follow(daemon, caoctl, caoctl_json):
    other = caoctl(daemon, "spawn", "-p", "scripted", "--wait").stdout.strip()  # events that must be filtered out
    agent = caoctl(daemon, "spawn", "-p", "scripted", "--wait").stdout.strip()
    caoctl(daemon, "send", agent, "hi", "--wait")
    events = caoctl_json(daemon, "events", "--agent", agent)
    assert {e["agent"] for e in events} == {agent}
    transitions = [(e["old"], e["new"]) for e in events if e["kind"] == "status"]
    assert ("starting", "idle") in transitions and ("processing", "completed") in transitions
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    assert caoctl_json(daemon, "events", "--agent", agent, "--since", str(events[-2]["seq"])) == events[-1:]
    text = caoctl(daemon, "events", "-n", "3").stdout.strip().splitlines()
    assert len(text) == 3 and "processing -> completed" in text[-1]

    # --agent and --since filter the live stream too: the only replayed line is the agent's last event
    follow = subprocess.Popen([sys.executable, "-m", "caoctl", "events", "--follow", "--json", "-n", "5",
                               "--agent", agent, "--since", str(events[-2]["seq"])],
                              env=daemon.env, stdout=subprocess.PIPE, text=True)
    try:
        replayed = json.loads(follow.stdout.readline())  # it has subscribed
        assert replayed == events[-1]
        caoctl(daemon, "send", other, "not followed", "--wait")
        caoctl(daemon, "send", agent, "again", "--wait")
        seen = []
        while not any(e.get("new") == "completed" for e in seen):
            line = follow.stdout.readline()
            assert line, "events --follow ended early"
            seen.append(json.loads(line))
        assert {e["agent"] for e in seen} == {agent}, seen
        assert seen[0]["new"] == "processing"
    finally:
        follow.terminate()
        follow.wait(10)


def test_events_follow_with_no_replay(daemon, caoctl, caoctl_json):
    agent = caoctl(daemon, "spawn", "-p", "scripted", "--wait").stdout.strip()
    last = caoctl_json(daemon, "events", "-n", "1")[-1]["seq"]
    follow = subprocess.Popen([sys.executable, "-m", "caoctl", "events", "-f", "-n", "0", "--json"],
                              env=daemon.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # nothing is replayed, so make events until it has subscribed and prints one
        deadline = time.monotonic() + 30
        while not select.select([follow.stdout], [], [], 0.2)[0]:
            assert time.monotonic() < deadline and follow.poll() is None, follow.stderr.read() if follow.poll() else ""
            caoctl(daemon, "send", agent, "ping", "--wait")
        first = json.loads(follow.stdout.readline())
        assert first["seq"] > last and first["agent"] == agent, (first, last)
    finally:
        follow.terminate()
        follow.wait(10)
    r = caoctl(daemon, "events", "-n", "0")  # without --follow it would show nothing: refused
    assert r.returncode != 0 and "it is for --follow" in r.stderr and "Traceback" not in r.stderr


def test_output_takes_one_mode(daemon, caoctl):
    agent = caoctl(daemon, "spawn", "-p", "scripted", "--wait").stdout.strip()
    r = caoctl(daemon, "output", agent, "--last", "--history")
    assert r.returncode != 0 and r.stdout == "", r
    assert "give one of --screen, --last, --history (not --last and --history)" in r.stderr, r.stderr
    assert "scripted-agent" in caoctl(daemon, "output", agent, "--screen").stdout


def test_kill_reports_signal(daemon, caoctl, caoctl_json):
    agent = caoctl(daemon, "spawn", "-p", "scripted", "--wait").stdout.strip()
    info = caoctl_json(daemon, "kill", agent, "--grace", "2")
    assert info["status"] == "exited"
    # The scripted agent exits 143 on SIGTERM (a CLI that ignored it would show signal 9).
    assert info["exit_code"] == 143 or info["exit_signal"] == 15, info
    assert caoctl_json(daemon, "status", agent)["status"] == "exited"
    r = caoctl(daemon, "send", agent, "hello")
    assert r.returncode == 1 and "exited" in r.stderr


def test_kill_several(daemon, caoctl, caoctl_json):
    ids = [caoctl(daemon, "spawn", "-p", "scripted", "--wait").stdout.strip() for _ in range(3)]
    r = caoctl(daemon, "kill", ids[0])
    assert r.returncode == 0 and r.stdout.strip() in (f"{ids[0]}: exited (143)", f"{ids[0]}: exited (signal 15)")
    killed = caoctl_json(daemon, "kill", ids[1], ids[2])  # several: a list, in order
    assert [(k["id"], k["status"]) for k in killed] == [(ids[1], "exited"), (ids[2], "exited")]
    assert [a["status"] for a in caoctl_json(daemon, "ls")] == ["exited"] * 3


def test_no_daemon_is_a_clear_error(daemon_factory, caoctl, one_line_error):
    idle = daemon_factory.new(start=False)
    one_line_error(caoctl(idle, "ls"), 69, "no daemon answers")
    r = caoctl(idle, "daemon", "status")
    assert r.returncode == 3 and "not running" in r.stdout


def test_spawn_isolate_home_gives_a_private_home(daemon, caoctl_json):
    info = caoctl_json(daemon, "spawn", "-p", "scripted", "--isolate-home", "--wait")
    environ = dict(item.split(b"=", 1) for item in open(f"/proc/{info['pid']}/environ", "rb").read().split(b"\0")
                   if b"=" in item)
    home = environ[b"HOME"].decode()
    assert home == f"{daemon.home}/agents/{info['id']}/home"
    assert os.path.isdir(home) and (os.stat(home).st_mode & 0o777) == 0o700
    plain = caoctl_json(daemon, "spawn", "-p", "scripted", "--wait")
    environ = open(f"/proc/{plain['pid']}/environ", "rb").read()
    assert f"HOME={home}".encode() not in environ and b"/agents/" not in environ.split(b"HOME=")[1].split(b"\0")[0]
