"""Fixtures for the real-binary tier: pinned CLIs, a scripted fake model, a daemon wired to both.

Helpers and constants live in realclis.py (test modules import that, never a conftest).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from fakemodel.server import FakeModel
from realclis import agent_env, opencode_project


@pytest.fixture
def workdir():
    """The agents' working folder (outside the repository, so no CLI reads its config)."""
    path = Path(tempfile.mkdtemp(prefix="caod-e2e-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def real_daemon(daemon_factory, model_server: FakeModel, workdir: Path):
    """A daemon whose agents run the pinned CLIs in isolated homes against `model_server`."""
    d = daemon_factory.new(start=False)
    for key in list(d.env):
        if key.lower() in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
            del d.env[key]  # the fake model is on 127.0.0.1, and nothing else may be reached
    d.env.update(agent_env(model_server.url))
    opencode_project(model_server.url, workdir)
    return d.start()
