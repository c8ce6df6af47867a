"""One rule for an agent's folder (caod.launching.working_directory), however the agent is
started: agent.spawn, session.launch, and caoctl spawn, through a real daemon."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from caoctl.client import RpcFailure
from caod.protocol import ErrorCode

ROOT = Path(__file__).resolve().parents[2]


def spawn(c, cwd: str):
    return c.call("agent.spawn", {"provider": "scripted", "cwd": cwd}, timeout=30)


def launch(c, cwd: str):
    return c.call("session.launch", {"profile": "developer", "provider": "scripted", "cwd": cwd}, timeout=30)


def refusals(c, cwd: str) -> list[tuple[int, str]]:
    """What agent.spawn and session.launch each say about `cwd` (both must refuse it)."""
    said = []
    for start in (spawn, launch):
        with pytest.raises(RpcFailure) as info:
            start(c, cwd)
        said.append((info.value.code, info.value.message))
    return said


def test_system_folders_are_refused_by_spawn_and_launch_alike(daemon, tmp_path):
    c = daemon.client()
    link = tmp_path / "looks-harmless"
    link.symlink_to("/etc")
    for cwd, resolved in (("/etc", "/etc"), ("/usr/share", "/usr/share"), ("/", "/"), ("/proc/1", "/proc/1"),
                          (str(link), "/etc")):
        message = f"refusing a system folder as working directory: {resolved}"
        assert refusals(c, cwd) == [(ErrorCode.BAD_DIRECTORY, message)] * 2, cwd
    assert c.call("agent.list", {}).agents == [] and c.call("session.list", {}).sessions == []


def test_a_missing_folder_is_the_same_error_from_both(daemon, tmp_path):
    c = daemon.client()
    missing = str(tmp_path / "gone")
    assert refusals(c, missing) == [(ErrorCode.BAD_DIRECTORY, f"working directory does not exist: {missing}")] * 2


def test_both_run_the_agent_in_the_resolved_folder(daemon, tmp_path):
    c = daemon.client()
    real = tmp_path / "project"
    real.mkdir()
    link = tmp_path / "via-link"
    link.symlink_to(real)
    assert spawn(c, str(link)).cwd == str(real)
    assert launch(c, str(link)).supervisor.cwd == str(real)


def test_caoctl_spawn_runs_the_agent_where_it_is_called(daemon, tmp_path):
    here = tmp_path / "work"
    here.mkdir()
    r = subprocess.run([sys.executable, "-m", "caoctl", "spawn", "-p", "scripted", "--json"], env=daemon.env,
                       cwd=here, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert daemon.client().call("agent.list", {}).agents[0].cwd == str(here)  # not the daemon's folder
    r = subprocess.run([sys.executable, "-m", "caoctl", "spawn", "-p", "scripted", "--cwd", "sub"], env=daemon.env,
                       cwd=here, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and r.stderr.strip() == f"caoctl: working directory does not exist: {here / 'sub'}"
