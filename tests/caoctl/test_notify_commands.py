"""caoctl notify add|list|remove|test through the real client and a real daemon."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time


def test_add_list_test_remove(daemon, caoctl, caoctl_json, one_line_error, tmp_path):
    r = caoctl(daemon, "notify", "add", "webhook", "--url", "http://127.0.0.1:9/hook", "--format", "slack",
               "--events", "status:error", "--events", "notice")
    assert r.returncode == 0, r.stderr
    made = re.search(r"secret \(shown this once.*\): ([0-9a-f]{64})$", r.stdout, re.M)
    assert made, r.stdout  # a secret the daemon made is shown once
    secret = made.group(1)
    assert r.stdout.startswith("added sink 1: webhook http://127.0.0.1:9/hook (events: status:error,notice)")
    given = caoctl_json(daemon, "notify", "add", "webhook", "--url", "http://127.0.0.1:9/b", "--secret", "mine")
    assert given["secret"] is None and given["sink"]["fingerprint"] == "sha256:" + hashlib.sha256(b"mine").hexdigest()[:12]
    out = tmp_path / "out"
    prog = tmp_path / "prog"
    prog.write_text(f"#!{sys.executable}\nimport sys\nopen({str(out)!r}, 'a').write(sys.stdin.read())\n")
    prog.chmod(0o700)
    r = caoctl(daemon, "notify", "add", "command", "--events", "status:exited", "--", str(prog), "--flag", "x")
    assert r.returncode == 0, r.stderr
    listed = caoctl(daemon, "notify", "list")
    assert listed.returncode == 0, listed.stderr
    assert secret not in listed.stdout and "mine" not in listed.stdout
    assert "sha256:" + hashlib.sha256(secret.encode()).hexdigest()[:12] in listed.stdout
    assert f"{prog} --flag x" in listed.stdout and "webhook (slack)" in listed.stdout
    as_json = caoctl(daemon, "notify", "list", "--json")
    assert secret not in as_json.stdout and '"mine"' not in as_json.stdout
    sinks = json.loads(as_json.stdout)["sinks"]
    assert [(s["id"], s["kind"]) for s in sinks] == [(1, "webhook"), (2, "webhook"), (3, "command")]
    # a test event: the command gets it; the webhook (nothing listens on port 9) fails and says so
    r = caoctl(daemon, "notify", "test", "3")
    assert r.returncode == 0 and r.stdout.startswith("test event queued for sink 3"), r
    assert caoctl(daemon, "notify", "test", "1").returncode == 0
    deadline = time.monotonic() + 20
    while not (out.exists() and out.read_text()) or not _failing(caoctl_json(daemon, "notify", "list"), 1):
        assert time.monotonic() < deadline, caoctl(daemon, "notify", "list").stdout
        time.sleep(0.1)
    assert json.loads(out.read_text())["kind"] == "test"
    text = caoctl(daemon, "notify", "list").stdout
    assert re.search(r"failing \(\d+ in a row, last \d+s ago\): cannot reach 127\.0\.0\.1:9", text), text
    assert caoctl(daemon, "notify", "remove", "1").stdout == "removed sink 1\n"
    assert [s["id"] for s in caoctl_json(daemon, "notify", "list")["sinks"]] == [2, 3]
    one_line_error(caoctl(daemon, "notify", "remove", "1"), code=1, contains="caoctl: no notification sink 1")


def _failing(listing, sink_id):
    return any(s["id"] == sink_id and s["failures"] for s in listing["sinks"])


def test_bad_sinks_are_one_line_errors(daemon, caoctl, one_line_error):
    one_line_error(caoctl(daemon, "notify", "add", "webhook", "--url", "http://127.0.0.1:9/", "--events", "status:nap"),
                   code=1, contains="'nap' is not a status state")
    one_line_error(caoctl(daemon, "notify", "add", "webhook", "--url", "file:///etc/passwd"), code=1,
                   contains="only http:// and https://")
    one_line_error(caoctl(daemon, "notify", "add", "command", "--", "/no/such/prog"), code=1,
                   contains="caoctl: /no/such/prog is not an executable file")
    one_line_error(caoctl(daemon, "notify", "test", "7"), code=1, contains="no notification sink 7")
    assert caoctl(daemon, "notify", "list").stdout == "no sinks\n"


def test_no_desktop_notifier_is_a_clear_error(daemon_factory, caoctl, one_line_error, tmp_path):
    d = daemon_factory.new(start=False)
    d.env["PATH"] = str(tmp_path)  # no notify-send, no osascript
    d.start()
    env = {**d.env, "PATH": os.environ.get("PATH", os.defpath)}
    one_line_error(caoctl(d, "notify", "add", "desktop", env=env), code=1,
                   contains="caoctl: no desktop notifier: neither notify-send (libnotify) nor osascript (macOS)")
