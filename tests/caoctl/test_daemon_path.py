"""doctor, provider list and spawn agree: a provider's CLI is looked up on the daemon's PATH.

The trap: a CLI installed where only the caller's shell finds it (an npm prefix added
to PATH after the daemon started). doctor said ✓ and spawn then failed.
"""

from __future__ import annotations

import json
import os

import pytest


@pytest.fixture
def shell_only_qwen(tmp_path):
    """A folder holding a fake `qwen`, on the caller's PATH only."""
    folder = tmp_path / "npm-bin"
    folder.mkdir()
    script = folder / "qwen"
    script.write_text('#!/bin/sh\necho "0.9.9"\n')
    script.chmod(0o755)
    return folder


def caller_env(daemon, folder):
    return {**daemon.env, "PATH": f"{folder}{os.pathsep}{daemon.env.get('PATH', '')}"}


def test_doctor_and_provider_list_check_the_daemons_path(daemon, caoctl, shell_only_qwen):
    env = caller_env(daemon, shell_only_qwen)
    daemon_path = daemon.env.get("PATH", os.defpath)
    r = caoctl(daemon, "doctor", env=env)
    line = next(x for x in r.stdout.splitlines() if " provider qwen_code:" in x)
    assert line.startswith("! provider qwen_code: `qwen` is on your PATH"), line
    assert f"({shell_only_qwen / 'qwen'}) but not on the daemon's ({daemon_path})" in line, line
    assert "caoctl daemon stop; caoctl daemon start" in line and "--env PATH=" in line, line

    rows = {row["name"]: row for row in json.loads(caoctl(daemon, "provider", "list", "--json", env=env).stdout)}
    assert rows["qwen_code"]["on_path"] is False and rows["qwen_code"]["checked_on"] == "daemon"
    assert rows["scripted"]["on_path"] is True
    text = caoctl(daemon, "provider", "list", env=env).stdout
    assert "ON DAEMON PATH" in text.splitlines()[0], text
    assert next(x for x in text.splitlines() if x.startswith("qwen_code ")).split()[3:5] == ["no", "(qwen)"]


def test_spawn_says_the_cli_is_not_on_the_daemons_path(daemon, caoctl, one_line_error, shell_only_qwen):
    env = caller_env(daemon, shell_only_qwen)
    daemon_path = daemon.env.get("PATH", os.defpath)
    r = caoctl(daemon, "spawn", "-p", "qwen_code", env=env)
    one_line_error(r, 1, f"cannot start qwen_code: `qwen` is not on the daemon's PATH ({daemon_path}); restart it")
    assert r.stderr.rstrip().endswith("or pass --env PATH=..."), r.stderr
    r = caoctl(daemon, "spawn", "-p", "qwen_code", "--env", "PATH=/no/such/bin", env=env)
    one_line_error(r, 1, "`qwen` is not on the PATH given with --env (/no/such/bin)")
    assert caoctl(daemon, "ls", env=env).stdout.strip() == "no agents"  # nothing half-started


def test_a_cli_on_the_daemons_path_only_is_found(daemon_factory, caoctl, shell_only_qwen):
    d = daemon_factory.new(start=False)
    d.env["PATH"] = f"{shell_only_qwen}{os.pathsep}{d.env.get('PATH', '')}"
    d.start()
    env = {**d.env, "PATH": os.environ.get("PATH", os.defpath)}  # the caller's shell does not have it
    line = next(x for x in caoctl(d, "doctor", env=env).stdout.splitlines() if " provider qwen_code:" in x)
    assert line == f"✓ provider qwen_code: 0.9.9 ({shell_only_qwen / 'qwen'})", line
    rows = {row["name"]: row for row in json.loads(caoctl(d, "provider", "list", "--json", env=env).stdout)}
    assert rows["qwen_code"]["on_path"] is True and rows["qwen_code"]["found"] == str(shell_only_qwen / "qwen")


def test_with_no_daemon_the_local_path_is_checked_and_labelled(daemon_factory, caoctl, shell_only_qwen):
    idle = daemon_factory.new(start=False)
    env = caller_env(idle, shell_only_qwen)
    r = caoctl(idle, "provider", "list", env=env)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "ON YOUR PATH" in lines[0]
    assert lines[-1] == (f"(no daemon answers on {idle.socket}: checked your PATH; "
                         "a daemon starts agents with the PATH it was started with)")
    rows = {row["name"]: row for row in json.loads(caoctl(idle, "provider", "list", "--json", env=env).stdout)}
    assert rows["qwen_code"]["checked_on"] == "local" and rows["qwen_code"]["on_path"] is True
    doctor = caoctl(idle, "doctor", env=env).stdout
    assert f"! provider PATH: no daemon answers on {idle.socket}: checked your PATH, not a daemon's" in doctor
