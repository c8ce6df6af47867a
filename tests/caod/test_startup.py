"""Start-up off the happy path, through a real daemon: a CLI that never gets ready, one that
stops at a dialog caod cannot answer (a login), one that dies printing why, and one that
boots its MCP servers after drawing its prompt. No agent stays `starting` forever."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from caoctl.client import RpcFailure
from caod.protocol import ErrorCode
from caod.status import Status

ROOT = Path(__file__).resolve().parents[2]

# Fake CLIs as shell one-liners: what they draw is all that matters here.
SILENT = ["sleep", "60"]  # never draws anything
LOGIN = ["sh", "-c", "printf 'Welcome!\\r\\n\\r\\nSign in to continue:\\r\\n  1. With a browser\\r\\n"
         "  2. With a key\\r\\n'; sleep 60"]
FATAL = ["sh", "-c", "printf '\\033[1mBanner art\\033[0m\\r\\n####\\r\\nError: no network for the preflight check\\r\\n'; "
         "exit 4"]
PROMPT = "^> $"


def provider_file(folder: Path, name: str, command: list[str], start_timeout_ms: int = 60000,
                  extra: str = "") -> None:
    (folder / f"{name}.toml").write_text(
        f'name = "{name}"\ndescription = "a test CLI"\ncommand = {json.dumps(command)}\n'
        f"start_timeout_ms = {start_timeout_ms}\n{extra}\n"
        '[[patterns]]\nstatus = "waiting_user_answer"\nregex = "^Sign in to continue:"\nregion = 6\n'
        f'[[patterns]]\nstatus = "idle"\nregex = "{PROMPT}"\nregion = 1\n')


@pytest.fixture
def startup_daemon(daemon_factory, tmp_path):
    folder = tmp_path / "providers"
    folder.mkdir()
    provider_file(folder, "silent", SILENT, start_timeout_ms=400)
    provider_file(folder, "login", LOGIN, start_timeout_ms=400)
    provider_file(folder, "fatal", FATAL)
    d = daemon_factory.new(start=False)
    d.env["CAOD_PROVIDERS_DIR"] = str(folder)
    return d.start()


def spawn(c, provider: str):
    return c.call("agent.spawn", {"provider": provider, "cwd": str(ROOT)}, timeout=30)


def status_events(c, agent: str):
    return [e for e in c.call("events.list", {"agent": agent, "limit": 100}).events if e.kind.value == "status"]


def test_a_cli_that_never_gets_ready_is_error_after_its_deadline(startup_daemon):
    c = startup_daemon.client()
    started = time.monotonic()
    info = spawn(c, "silent")
    with pytest.raises(RpcFailure) as e:  # a task sent while it starts is refused, not typed into it
        c.call("agent.send", {"agent": info.id, "text": "hello", "timeout": 10}, timeout=20)
    assert e.value.code == ErrorCode.AGENT_BUSY and "failed to start: did not become ready" in e.value.message
    failed = c.call("agent.wait", {"agent": info.id, "statuses": ["error"], "timeout": 10}, timeout=20)
    took = time.monotonic() - started
    assert 0.3 < took < 5, took
    assert failed.reason == "did not become ready within 0.4 s"
    (event,) = status_events(c, info.id)
    assert (event.old, event.new, event.signal.value) == (Status.STARTING, Status.ERROR, "timeout")
    assert event.detail["reason"] == failed.reason
    # the process still runs: a person may attach and fix it
    assert failed.pid and os.path.exists(f"/proc/{failed.pid}")


def test_a_login_dialog_is_waiting_with_its_text_and_a_task_is_not_typed_into_it(startup_daemon):
    c = startup_daemon.client()
    info = spawn(c, "login")
    with pytest.raises(RpcFailure) as e:  # sent while it starts: a task, not an answer to the dialog
        c.call("agent.send", {"agent": info.id, "text": "do the task", "timeout": 10}, timeout=20)
    assert e.value.code == ErrorCode.AGENT_BUSY
    assert "is waiting for an answer" in e.value.message and "Sign in to continue" in e.value.message
    waiting = c.call("agent.wait", {"agent": info.id, "statuses": ["waiting_user_answer"], "timeout": 10},
                     timeout=20)
    assert waiting.reason == "Welcome!\n\nSign in to continue:\n1. With a browser\n2. With a key"
    (event,) = status_events(c, info.id)
    assert event.detail["question"] == waiting.reason
    time.sleep(0.8)  # past the start deadline: a question is not "did not become ready"
    assert c.call("agent.get", {"agent": info.id}).status is Status.WAITING
    assert e.value.data == {"status": "waiting_user_answer", "reason": waiting.reason}


def test_a_cli_that_dies_while_starting_is_error_with_what_it_printed(startup_daemon):
    c = startup_daemon.client()
    info = spawn(c, "fatal")
    gone = c.call("agent.wait", {"agent": info.id, "statuses": ["exited"], "timeout": 10}, timeout=20)
    assert gone.exit_code == 4
    events = status_events(c, info.id)
    assert [(e.new, e.signal.value) for e in events] == [(Status.ERROR, "process"), (Status.EXITED, "process")]
    # lines with words, not the art: what a person needs to see
    assert events[0].detail["reason"] == "Banner art\nError: no network for the preflight check"
    assert gone.reason == events[0].detail["reason"]


def caoctl(daemon, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAOD_", "CAO_"))}
    env["CAOD_SOCKET"] = str(daemon.socket)
    return subprocess.run([sys.executable, "-m", "caoctl", *args], env=env, cwd=str(ROOT), capture_output=True,
                          text=True, timeout=60)


def test_spawn_wait_returns_the_dialog_with_exit_3_and_the_error_with_exit_1(startup_daemon):
    r = caoctl(startup_daemon, "spawn", "-p", "login", "--wait")
    assert r.returncode == 3, (r.stdout, r.stderr)
    agent = r.stdout.strip()
    assert len(agent) == 8  # the id, for scripts, even so
    assert r.stderr.strip() == (f"caoctl: agent {agent} is waiting for an answer: "
                                "Welcome! / Sign in to continue: / 1. With a browser / 2. With a key")
    status = caoctl(startup_daemon, "status", agent)
    assert "reason:\n  Welcome!\n\n  Sign in to continue:\n  1. With a browser" in status.stdout, status.stdout

    r = caoctl(startup_daemon, "spawn", "-p", "silent", "--wait")
    assert r.returncode == 1 and r.stderr.strip().endswith("failed to start: did not become ready within 0.4 s")
    r = caoctl(startup_daemon, "spawn", "-p", "fatal", "--wait", "--json")
    assert r.returncode == 1
    assert json.loads(r.stdout)["status"] == "exited"
    error = json.loads(r.stderr)["error"]  # with --json, the error is JSON too
    assert error["code"] == "failed" and error["exit_code"] == 1
    assert error["message"].endswith("exited while starting (exit code 4): Banner art / "
                                     "Error: no network for the preflight check")


def test_start_up_work_before_any_input_is_not_a_turn(daemon, spawn_scripted, wait_status):
    """The scripted agent draws its prompt, then a spinner (an MCP server booting) before it is
    really ready: the agent stays idle, with no `processing`/`completed` nobody asked for."""
    c = daemon.client()
    info = spawn_scripted(c, env={"CAO_SCRIPTED_BOOT_SPINNER": "0.6"})
    wait_status(c, info.id, "idle", timeout=20)
    time.sleep(1.2)  # the spinner came and went
    events = status_events(c, info.id)
    assert [e.new for e in events] == [Status.IDLE], events
    assert b"esc to interrupt" in (daemon.home / "transcripts" / f"{info.id}.log").read_bytes()  # it did spin
