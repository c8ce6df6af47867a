"""Webhooks on a real daemon: signed, filtered, in order, and nothing lost while the receiver is down."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from caoctl.client import RpcFailure
from caod.protocol import ErrorCode

FAST_RETRY = {"CAOD_NOTIFY_RETRY_FIRST_S": "0.2", "CAOD_NOTIFY_RETRY_MAX_S": "0.5"}

RULES = {"rules": [{"match": "^ask", "approval": "run the test suite"},
                   {"match": ".", "reply": "ok {text}", "think": 0.1}]}


def add_webhook(client, url, events, secret="s3cret", fmt="json"):
    return client.call("notify.add", {"kind": "webhook", "url": url, "secret": secret, "events": events,
                                      "format": fmt}).sink


def sink_info(client, sink_id):
    return next(s for s in client.call("notify.list", {}).sinks if s.id == sink_id)


def test_a_signed_webhook_per_subscribed_event_and_none_for_others(notify_daemon, receiver, ready_agent, send,
                                                                 wait_status, wait_for):
    hook = receiver(secret="s3cret")
    slack = receiver(secret="other")
    c = notify_daemon.client()
    sink = add_webhook(c, hook.url, ["status:completed", "status:waiting_user_answer"])
    assert sink.fingerprint == "sha256:" + hashlib.sha256(b"s3cret").hexdigest()[:12]
    slack_sink = add_webhook(c, slack.url, ["status:completed"], secret="other", fmt="slack")
    discord = receiver(secret="third")
    add_webhook(c, discord.url, ["status:waiting_user_answer"], secret="third", fmt="discord")
    agent = ready_agent(c, RULES, name="alpha")
    send(c, agent.id, "one")
    send(c, agent.id, "ask", wait=False)
    wait_status(c, agent.id, "waiting_user_answer")
    c.call("notify.test", {"id": sink.id})  # a barrier: it is sent after every event queued before it
    got = hook.wait_kind("test")
    assert all(r["signed"] for r in got), [r["headers"] for r in got]
    events = [r["json"] for r in got]
    assert [(e["kind"], e.get("new")) for e in events] == [
        ("status", "completed"), ("status", "waiting_user_answer"), ("test", None)]
    done, waiting, _ = events
    assert done["agent"] == agent.id and done["agent_name"] == "alpha" and done["old"] == "processing"
    assert waiting["seq"] > done["seq"]
    assert waiting["text"].startswith("alpha waits for an answer")
    assert "run the test suite" in waiting["reason"] and "run the test suite" in waiting["text"]
    first = got[0]
    assert first["headers"]["X-Caod-Event"] == "status" and first["path"] == "/hook?x=1"
    assert [int(r["headers"]["X-Caod-Delivery"]) for r in got] == sorted(int(r["headers"]["X-Caod-Delivery"]) for r in got)
    # the same events reached the daemon's own history: a webhook per subscribed one, none for the rest
    history = c.call("events.list", {"agent": agent.id, "limit": 1000}).events
    wanted = [e.seq for e in history if e.new is not None and e.new.value in ("completed", "waiting_user_answer")
              and e.kind.value == "status"]
    assert [e["seq"] for e in events[:2]] == wanted
    assert len(history) > len(wanted) + 2  # spawned, starting, idle, processing ... were not sent
    # Slack's body, signed with its own secret
    c.call("notify.test", {"id": slack_sink.id})
    got = slack.wait(lambda g: len(g) == 2, "the slack messages")
    assert all(r["signed"] for r in got)
    assert got[0]["json"] == {"text": "caod: alpha completed its task"}
    assert got[1]["json"] == {"text": "caod: test notification from caod"}
    body = got[0]["body"]
    assert got[0]["headers"]["X-Caod-Signature-256"] == "sha256=" + hmac.new(b"other", body, hashlib.sha256).hexdigest()
    got = discord.wait(lambda g: len(g) == 1, "the discord message")
    assert got[0]["signed"] and got[0]["json"]["content"].startswith("caod: alpha waits for an answer: ")
    # nothing is waiting, nothing failed
    info = wait_for(lambda: (i := sink_info(c, sink.id)).queued == 0 and i, "the queue empty")
    assert info.failures == 0 and info.last_sent_at and info.last_error is None


def test_a_receiver_that_fails_gets_everything_in_order_once_it_is_back(notify_daemon, receiver, ready_agent, send,
                                                                        wait_for):
    hook = receiver(secret="s3cret")
    hook.fail_next = 3
    c = notify_daemon.client()
    sink = add_webhook(c, hook.url, ["status:completed"])
    agent = ready_agent(c, RULES)
    for text in ("one", "two", "three"):
        send(c, agent.id, text)
    c.call("notify.test", {"id": sink.id})
    got = hook.wait_kind("test")
    assert hook.refused == 3
    assert [r["json"]["kind"] for r in got] == ["status"] * 3 + ["test"]
    seqs = [r["json"]["seq"] for r in got[:3]]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    info = wait_for(lambda: (i := sink_info(c, sink.id)).queued == 0 and i, "the queue empty")
    assert info.failures == 0 and "HTTP 500" in (info.last_error or "")


def _fast(daemon):
    daemon.env.update(FAST_RETRY)
    return daemon.start()


def test_a_receiver_down_across_a_restart_gets_every_event_once_in_order(daemon_factory, receiver, ready_agent, send,
                                                                         wait_for):
    d = _fast(daemon_factory.new(start=False))
    hook = receiver(secret="s3cret", start=False)  # nothing listens on its port: connections are refused
    c = d.client()
    sink = add_webhook(c, hook.url, ["status:completed"])
    agent = ready_agent(c, RULES)
    send(c, agent.id, "one")
    send(c, agent.id, "two")
    info = wait_for(lambda: (i := sink_info(c, sink.id)).failures >= 2 and i, "the failures shown")
    assert info.queued == 2 and "cannot reach 127.0.0.1" in info.last_error, info
    # doctor names the failing sink
    r = subprocess.run([sys.executable, "-m", "caoctl", "--socket", str(d.socket), "doctor", "--json"],
                       env=d.env, capture_output=True, text=True, timeout=120)
    check = next(ch for ch in json.loads(r.stdout) if ch["check"] == f"sink {sink.id}")
    assert check["level"] == "warn" and "failures in a row, 2 events queued" in check["detail"], check
    assert d.stop() == 0  # with both events unsent
    d2 = _fast(daemon_factory.same(d, start=False))
    c2 = d2.client()
    info = sink_info(c2, sink.id)
    assert info.queued == 2 and info.failures >= 2  # kept across the restart
    hook.start()  # the receiver is back: the worker, resuming its queue at start, finds it with no new event
    hook.wait(lambda g: len(g) >= 2, "the two events of the last run")
    agent2 = ready_agent(c2, RULES)
    send(c2, agent2.id, "three")
    hook.wait(lambda g: len(g) >= 3, "the three events")
    c2.call("notify.test", {"id": sink.id})  # a barrier: anything sent twice would come before it
    got = hook.wait_kind("test")
    assert [r["json"]["kind"] for r in got] == ["status", "status", "status", "test"]
    assert [r["json"]["agent"] for r in got[:3]] == [agent.id, agent.id, agent2.id]
    seqs = [r["json"]["seq"] for r in got[:3]]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    deliveries = [int(r["headers"]["X-Caod-Delivery"]) for r in got]
    assert deliveries == sorted(set(deliveries))
    assert all(r["signed"] for r in got)
    wait_for(lambda: sink_info(c2, sink.id).queued == 0, "the queue empty")  # marked sent once answered


@pytest.mark.parametrize("bad, message", [
    ({"url": "ftp://x/"}, "only http:// and https://"),
    ({}, "needs --url"),
    ({"url": "http://127.0.0.1:1/", "events": ["status:sleeping"]}, "'sleeping' is not a status state"),
    ({"url": "http://127.0.0.1:1/", "events": ["weather"]}, "unknown event kind 'weather'"),
])
def test_a_bad_webhook_is_refused_at_add(shared_daemon, bad, message):
    c = shared_daemon.client()
    with pytest.raises(RpcFailure) as e:
        c.call("notify.add", {"kind": "webhook", **bad})
    assert message in e.value.message
    assert not c.call("notify.list", {}).sinks


def test_no_such_sink(shared_daemon):
    c = shared_daemon.client()
    for method in ("notify.test", "notify.remove"):
        with pytest.raises(RpcFailure) as e:
            c.call(method, {"id": 99})
        assert e.value.code == ErrorCode.NO_SUCH_SINK and "no notification sink 99" in e.value.message


def test_sessions_and_messages_reach_a_webhook(notify_daemon, receiver, wait_status):
    hook = receiver(secret="s3cret")
    c = notify_daemon.client()
    sink = add_webhook(c, hook.url, ["session", "message:queued"])
    sup = c.call("session.launch", {"profile": "code_supervisor", "provider": "scripted", "session": "n1",
                                    "cwd": "/tmp", "task": "build it"}, timeout=30).supervisor
    wait_status(c, sup.id, "completed", timeout=30)
    c.call("session.shutdown", {"session": "n1"}, timeout=30)
    c.call("notify.test", {"id": sink.id})
    got = [r["json"] for r in hook.wait_kind("test")]
    assert [(e["kind"], e["detail"].get("state")) for e in got] == [
        ("session", "launched"), ("message", "queued"), ("session", "ended"), ("test", None)]
    launched, message, ended, _ = got
    assert launched["agent"] == sup.id and launched["text"] == "session n1 launched"
    assert message["detail"]["from"] == "user" and message["session"] == "n1" and message["profile"] == "code_supervisor"
    assert ended["text"] == "session n1 ended"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl makes the test certificates")
def test_https_webhooks_check_the_certificate(daemon_factory, receiver, self_signed, tmp_path, wait_for):
    trusted = self_signed(tmp_path, "trusted")
    stranger = self_signed(tmp_path, "stranger")
    d = daemon_factory.new(start=False)
    d.env["SSL_CERT_FILE"] = str(trusted[0])  # OpenSSL's default trust store, for this daemon only
    d.start()
    good = receiver(secret="s3cret", tls=trusted)
    bad = receiver(secret="s3cret", tls=stranger)
    c = d.client()
    good_sink = add_webhook(c, good.url, ["status:error"])
    bad_sink = add_webhook(c, bad.url, ["status:error"])
    assert good.url.startswith("https://127.0.0.1:")
    c.call("notify.test", {"id": good_sink.id})
    c.call("notify.test", {"id": bad_sink.id})
    got = good.wait_kind("test")
    assert got[0]["signed"] and got[0]["json"]["text"] == "test notification from caod"
    info = wait_for(lambda: (i := sink_info(c, bad_sink.id)).failures and i, "the untrusted receiver failing")
    assert "TLS with 127.0.0.1" in info.last_error and "CERTIFICATE_VERIFY_FAILED" in info.last_error, info
    assert bad.received == []


WORKER = r"^(?:\[message from \w+\] )?"
TEAM_RULES = {"rules": [
    {"match": r"^assign: (?P<task>.+)$",
     "mcp_call": {"server": "caod", "tool": "assign", "args": {"agent_profile": "developer", "message": "{task}"}},
     "reply": "assigned {result_json}", "reply_error": "assign failed: {error}"},
    {"match": r"^\[caod notice about worker (?P<w>\w+) ", "reply": "noted {w}"},
    {"match": WORKER + r"fail", "error": "the model refused the request"},
    {"match": WORKER + r"hang", "reply": "hang done", "think": 60},
]}


def test_the_supervisor_loops_notices_and_stalls_reach_a_webhook(daemon_factory, receiver, wait_status, wait_for):
    d = daemon_factory.new(start=False)
    d.env.update(CAO_SCRIPTED_RULES=json.dumps(TEAM_RULES), CAOD_STALL_AFTER="1.5s", **FAST_RETRY)
    d.start()
    hook = receiver(secret="s3cret")
    c = d.client()
    sink = add_webhook(c, hook.url, ["notice:error", "stalled"])
    sup = c.call("session.launch", {"profile": "code_supervisor", "provider": "scripted", "session": "n1",
                                    "cwd": "/tmp"}, timeout=30).supervisor.id
    wait_status(c, sup, "idle", timeout=20)
    workers = []
    for task in ("fail now", "hang on"):
        r = c.call("agent.send", {"agent": sup, "text": f"assign: {task}", "wait": True, "timeout": 60}, timeout=70)
        assert r.answer.startswith("assigned "), r.answer
        workers.append(json.loads(r.answer.removeprefix("assigned "))["agent_id"])
        if task == "hang on":  # frozen while busy: no output, so a stall
            frozen = wait_status(c, workers[-1], "processing", timeout=20)
            os.kill(frozen.pid, signal.SIGSTOP)
        try:
            hook.wait(lambda g: len(g) == len(workers), f"the event about worker {len(workers)}", timeout=30)
        finally:
            if task == "hang on":
                os.kill(frozen.pid, signal.SIGCONT)
        if task == "fail now":  # the supervisor takes the notice in before its next task
            wait_for(lambda: [m for m in c.call("inbox.list", {"agent": sup}).messages
                              if m.sender == "caod" and m.status == "acknowledged"], "the notice taken")
            wait_status(c, sup, "completed", timeout=20)
    c.call("notify.test", {"id": sink.id})
    got = [r["json"] for r in hook.wait_kind("test")]
    assert [e["kind"] for e in got] == ["message", "stalled", "test"]
    notice, stalled, _ = got
    assert notice["agent"] == sup and notice["detail"]["notice"] == "error" and notice["detail"]["worker"] == workers[0]
    assert notice["text"] == f"worker {workers[0]} shows an error (caod told {notice['agent_name'] or sup} [n1])"
    assert stalled["agent"] == workers[1] and stalled["detail"]["after_s"] >= 1.5
