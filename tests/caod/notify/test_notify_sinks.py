"""Command and desktop sinks on a real daemon: real programs, the event JSON on stdin, failures reported."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from caoctl.client import RpcFailure
from caod.protocol import ErrorCode

TURN = {"rules": [{"match": ".", "reply": "ok {text}", "think": 0.1}]}


def script(path: Path, body: str) -> Path:
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(0o700)
    return path


def sink_info(client, sink_id):
    return next(s for s in client.call("notify.list", {}).sinks if s.id == sink_id)


def test_a_command_sink_gets_each_event_as_json_on_stdin(notify_daemon, tmp_path, ready_agent, send, wait_for):
    out = tmp_path / "got.jsonl"
    prog = script(tmp_path / "record", "import sys\nopen(sys.argv[1], 'a').write(sys.stdin.read())\n")
    c = notify_daemon.client()
    sink = c.call("notify.add", {"kind": "command", "argv": [str(prog), str(out)],
                                 "events": ["status:completed,session"]}).sink
    assert sink.target == f"{prog} {out}" and sink.events == ["status:completed", "session"]
    agent = ready_agent(c, TURN, name="cmd")
    send(c, agent.id, "one")
    c.call("notify.test", {"id": sink.id})
    got = wait_for(lambda: (g := [json.loads(ln) for ln in out.read_text().splitlines()] if out.exists() else [])
                   and g[-1]["kind"] == "test" and g, "the events on the program's stdin")
    assert [(e["kind"], e.get("new")) for e in got] == [("status", "completed"), ("test", None)]
    assert got[0]["agent"] == agent.id and got[0]["agent_name"] == "cmd" and got[0]["text"] == "cmd completed its task"


def test_a_failing_or_hanging_command_is_reported_and_retried(daemon_factory, tmp_path, wait_for):
    d = daemon_factory.new(start=False)
    d.env.update(CAOD_NOTIFY_RETRY_FIRST_S="0.2", CAOD_NOTIFY_RETRY_MAX_S="0.5")
    d.start()
    c = d.client()
    flag = tmp_path / "ok"
    out = tmp_path / "got.jsonl"
    # fails (exit 3, a line on stderr) until the flag file exists, then records its stdin
    prog = script(tmp_path / "flaky", f"""import os, sys
if not os.path.exists({str(flag)!r}):
    print("receiver not ready", file=sys.stderr)
    sys.exit(3)
open({str(out)!r}, "a").write(sys.stdin.read())
""")
    flaky = c.call("notify.add", {"kind": "command", "argv": [str(prog)]}).sink
    hang = script(tmp_path / "hang", "import time\ntime.sleep(3600)\n")
    slow = c.call("notify.add", {"kind": "command", "argv": [str(hang)], "timeout": 0.3}).sink
    c.call("notify.test", {"id": flaky.id})
    c.call("notify.test", {"id": slow.id})
    info = wait_for(lambda: (i := sink_info(c, flaky.id)).failures >= 2 and i, "the flaky sink failing")
    assert info.last_error == f"{prog} exited 3: receiver not ready" and info.queued == 1
    info = wait_for(lambda: (i := sink_info(c, slow.id)).failures >= 1 and i, "the hanging sink failing")
    assert info.last_error == f"{hang} did not finish within 0.3s (killed)"
    flag.touch()
    got = wait_for(lambda: out.exists() and [json.loads(ln) for ln in out.read_text().splitlines()], "the event")
    assert [e["kind"] for e in got] == ["test"]
    wait_for(lambda: sink_info(c, flaky.id).failures == 0, "the flaky sink back")


def test_a_desktop_sink_runs_notify_send(daemon_factory, tmp_path, wait_for):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    out = tmp_path / "shown"
    script(bin_dir / "notify-send", f"import sys\nopen({str(out)!r}, 'a').write(repr(sys.argv[1:]) + '\\n')\n")
    d = daemon_factory.new(start=False)
    d.env["PATH"] = f"{bin_dir}:{os.environ.get('PATH', os.defpath)}"
    d.start()
    c = d.client()
    sink = c.call("notify.add", {"kind": "desktop"}).sink
    assert sink.kind == "desktop" and "status:waiting_user_answer" in sink.events
    c.call("notify.test", {"id": sink.id})
    shown = wait_for(lambda: out.exists() and out.read_text(), "the notification")
    assert shown == repr(["--app-name=caod", "caod", "test notification from caod"]) + "\n"


def test_desktop_and_command_sinks_are_refused_when_they_cannot_run(daemon_factory, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    d = daemon_factory.new(start=False)
    d.env["PATH"] = str(empty)
    d.start()
    c = d.client()
    with pytest.raises(RpcFailure) as e:
        c.call("notify.add", {"kind": "desktop"})
    assert e.value.code == ErrorCode.INVALID_SINK and "neither notify-send (libnotify) nor osascript" in e.value.message
    for argv, why in ([["no-such-program"], "no-such-program is not on the daemon's PATH"],
                      [[str(tmp_path / "nothing")], "is not an executable file"],
                      [[], "needs a program"]):
        with pytest.raises(RpcFailure) as e:
            c.call("notify.add", {"kind": "command", "argv": argv})
        assert why in e.value.message
    assert c.call("notify.list", {}).sinks == []


def test_sinks_added_at_once_get_their_own_ids_and_are_kept_across_a_restart(daemon_factory, tmp_path):
    import threading

    d = daemon_factory.new()
    prog = script(tmp_path / "true", "pass\n")
    results = []

    def add():
        with d.client() as own:
            results.append(own.call("notify.add", {"kind": "command", "argv": [str(prog)]}).sink.id)

    threads = [threading.Thread(target=add) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == list(range(1, 9))
    c = d.client()
    c.call("notify.remove", {"id": 8})
    assert d.stop() == 0
    d2 = daemon_factory.same(d)
    sinks = d2.client().call("notify.list", {}).sinks
    assert [s.id for s in sinks] == list(range(1, 8)) and sinks[0].target == str(prog)
