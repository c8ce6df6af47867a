"""Fixtures that run the real caoctl as a subprocess against a test daemon."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any


def caoctl(daemon, *args: str, timeout: float = 60, input: str | None = None, env: dict | None = None):
    """Run `caoctl ARGS` with the daemon's CAOD_SOCKET/CAOD_HOME; returns CompletedProcess."""
    return subprocess.run(
        [sys.executable, "-m", "caoctl", *args],
        env=env or daemon.env, capture_output=True, text=True, timeout=timeout, input=input,
    )


def caoctl_json(daemon, *args: str, timeout: float = 60) -> Any:
    r = caoctl(daemon, *args, "--json", timeout=timeout)
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    return json.loads(r.stdout)


def assert_one_line_error(r, code: int | None = None, contains: str | None = None) -> None:
    """A failed command prints one clear `caoctl: ...` line and no traceback."""
    assert r.returncode != 0, r
    if code is not None:
        assert r.returncode == code, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr
    if contains is not None:
        assert contains in r.stderr, r.stderr


import pytest  # noqa: E402


@pytest.fixture(name="caoctl")
def _caoctl_fixture():
    return caoctl


@pytest.fixture(name="caoctl_json")
def _caoctl_json_fixture():
    return caoctl_json


@pytest.fixture(name="one_line_error")
def _one_line_error_fixture():
    return assert_one_line_error
