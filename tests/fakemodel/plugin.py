"""pytest plugin: the ``model_server`` fixture.

Enable it once in tests/conftest.py::

    pytest_plugins = ["fakemodel.plugin"]

(tests/ has no __init__.py, so pytest's default "prepend" import mode puts
tests/ on sys.path when it loads tests/conftest.py, and ``fakemodel`` imports
as a top-level package.)
"""

from __future__ import annotations

from typing import Iterator

import pytest

from fakemodel.server import FakeModel


@pytest.fixture
def model_server() -> Iterator[FakeModel]:
    """A running FakeModel on 127.0.0.1 (``.url``), stopped after the test."""
    fm = FakeModel()
    try:
        yield fm
    finally:
        fm.stop()
