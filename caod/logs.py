"""structlog set-up: JSON lines to a file, readable lines on a terminal."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any, TextIO

import structlog

from caod import paths

_json = structlog.processors.JSONRenderer()
_console = structlog.dev.ConsoleRenderer(colors=False)


class _TeeLogger:
    """Receives (json_line, console_line) from the last processor and writes both."""

    def __init__(self, file: TextIO, console: TextIO | None):
        self._file = file
        self._console = console

    def msg(self, json_line: str, console_line: str | None) -> None:
        self._file.write(json_line + "\n")
        self._file.flush()
        if self._console is not None and console_line is not None:
            self._console.write(console_line + "\n")
            self._console.flush()

    info = debug = warning = error = critical = exception = msg


def _render_both(logger: Any, name: str, event: dict) -> tuple[tuple[str, str | None], dict]:
    """structlog passes a returned (args, kwargs) pair on to the logger method."""
    console = _console(logger, name, dict(event)) if getattr(logger, "_console", None) else None
    return (_json(logger, name, event), console), {}


def configure(log_file: Path, level: str = "info", console: TextIO | None = None) -> None:
    """Log to `log_file`; also to `console` (default: stderr when it is a TTY)."""
    if console is None and (sys.stderr.isatty() or os.environ.get("JOURNAL_STREAM")):
        console = sys.stderr  # a terminal, or the journal (which adds its own timestamps)
    paths.make_private_dirs(log_file.parent)
    fh = os.fdopen(paths.open_private(log_file, os.O_WRONLY | os.O_APPEND), "a", encoding="utf-8")  # noqa: SIM115
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _render_both,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=lambda *_: _TeeLogger(fh, console),
        cache_logger_on_first_use=True,
    )


log = structlog.get_logger("caod")
